import Foundation
import GRDB
import OrderClosing
import OrderClosingTestSupport
import StoreTestSupport
import Testing
import WeChatPayV2

@testable import SQLiteOrderStore

/// Issue 24: what SQLite does for each close, asked of SQLite itself. A constant list of three or
/// more (`x IN ('a', 'b', 'c')`) in a CHECK, a partial index's WHERE or a trigger's WHEN makes
/// SQLite build a temporary b-tree (`OpenEphemeral`) every time the statement runs — inside a
/// trigger, every time it fires — and the daemon runs these statements once per close. `EXPLAIN`
/// lists a statement's program with its triggers' programs, so the count is exact and does not
/// depend on the machine. The bound is what schema 1's CHECKs on `status` and `outcome` need
/// (changing a CHECK rebuilds the table); before migration 7 the finish needed 5, the audit row 1.
@Suite struct CloseCostTests {
    /// `OpenEphemeral` instructions in the program (and trigger programs) of `sql`, unbound
    /// parameters read as NULL.
    static func temporaryBTrees(_ db: Database, _ sql: String) throws -> Int {
        let parameters = sql.filter { $0 == "?" }.count
        let rows = try Row.fetchAll(
            db, sql: "EXPLAIN " + sql,
            arguments: StatementArguments(Array(repeating: nil as Int64?, count: parameters)))
        return rows.filter { ($0["opcode"] as String) == "OpenEphemeral" }.count
    }

    @Test func eachCloseBuildsOnlyTheTemporaryBTreesOfSchema1sChecks() throws {
        let database = try ScratchDatabase()
        defer { database.remove() }
        let due = DueSQL(.standard)
        // statement → most temporary b-trees allowed: one per CHECK over a list whose column it writes.
        let bounds: [(name: String, sql: String, most: Int)] = [
            ("finish (status, outcome)", WriteSQL.finishes(1), 2),
            // Once per batch: the CHECKs, plus the rows joined and returned.
            ("finishes (16 in one statement)", WriteSQL.finishes(16) + " RETURNING pending_orders.id", 5),
            ("retry (status)", WriteSQL.retry, 1),
            ("contradiction (status)", WriteSQL.contradiction, 1),
            ("audit row", WriteSQL.attempts(1), 0),
            // Once per batch: a multi-row INSERT into a table with a trigger stages its rows.
            ("audit rows (16 in one statement)", WriteSQL.attempts(16), 1),
            // Once per batch: the IN (SELECT …) and RETURNING's rows, plus the status CHECK.
            ("claim", SQLiteOrderStore.claimSQL(due: due, filter: "", oneRow: false), 3),
        ]
        try database.pool.read { db in
            for (name, sql, most) in bounds {
                let found = try Self.temporaryBTrees(db, sql)
                #expect(found <= most, "\(name): \(found) temporary b-trees per run, at most \(most) expected")
            }
        }
    }

    /// A batch of 16 closes recorded with one call: one UPDATE for the 16 finishes (each row a
    /// compare-and-set on its own lease) and one INSERT for the 16 audit rows, not 32 statements
    /// (each costs SQLite a step, its triggers' frames and its CHECKs' temporary b-trees).
    @Test func aBatchIsTwoStatements() async throws {
        let database = try ScratchDatabase()
        defer { database.remove() }
        for index in 0..<16 { try database.insert("BATCH-\(index)", createdAt: 1_800_000_000) }
        let now: Int64 = 1_800_000_400_000
        let claimed = try await database.store.claimDue(
            ClaimRequest(limit: 16), now: now, leaseOwner: "test", leaseUntil: now + 60_000)
        #expect(claimed.count == 16)
        let writes = claimed.map { order in
            OrderWrite(
                order: order, change: .finish(.closed, outcome: "closed", transactionID: nil, reason: nil),
                attempts: [
                    AttemptRecord(
                        call: .closeOrder, attempt: order.attempt, startedAt: now, finishedAt: now + 50,
                        endpoint: "http://127.0.0.1:1",
                        response: ResponseSummary(httpStatus: 200, returnCode: "SUCCESS", resultCode: "SUCCESS", verified: true),
                        outcome: .closed, error: nil)
                ])
        }
        let statements = StatementLog()
        try await database.pool.write { db in db.trace { statements.append("\($0)") } }
        #expect(try await database.store.record(writes, now: now + 100).allSatisfy { $0 == .applied })
        try await database.pool.write { db in db.trace(options: []) { _ in } }
        let run = statements.lines.filter { $0.contains("pending_orders") || $0.contains("close_attempts") }
        #expect(run.filter { $0.contains("UPDATE pending_orders") }.count == 1, "\(run)")
        #expect(run.filter { $0.hasPrefix("INSERT INTO close_attempts") }.count == 1, "\(run)")
        let audit = try await database.pool.read { db in
            try String.fetchAll(db, sql: "SELECT out_trade_no FROM close_attempts ORDER BY id")
        }
        #expect(audit == claimed.map(\.outTradeNo))
        let closed = try await database.pool.read { db in
            try Int.fetchOne(
                db,
                sql:
                    "SELECT count(*) FROM pending_orders WHERE status = 'closed' AND outcome = 'closed' AND finished_ms = ? AND lease_token IS NULL",
                arguments: [now + 100])
        }
        #expect(closed == 16)
    }

    /// In one statement, each finish is still its own compare-and-set: rows the merchant marked
    /// paid meanwhile are not written and say so with the conflict, a row another daemon took is
    /// `leaseLost`, and the others are applied — as when each was its own UPDATE.
    @Test func aBatchsFinishesAreEachACompareAndSet() async throws {
        let database = try ScratchDatabase()
        defer { database.remove() }
        for index in 0..<8 { try database.insert("CAS-\(index)", createdAt: 1_800_000_000) }
        let now: Int64 = 1_800_000_400_000
        let claimed = try await database.store.claimDue(
            ClaimRequest(limit: 8), now: now, leaseOwner: "test", leaseUntil: now + 60_000)
        try await database.pool.write { db in
            try db.execute(sql: "UPDATE pending_orders SET status = 'paid' WHERE out_trade_no IN ('CAS-1', 'CAS-5')")
            try db.execute(
                sql:
                    "UPDATE pending_orders SET lease_token = 'another daemon', lease_owner = 'other' WHERE out_trade_no = 'CAS-3'"
            )
        }
        let writes = claimed.map {
            OrderWrite(order: $0, change: .finish(.closed, outcome: "closed", transactionID: nil, reason: nil), attempts: [])
        }
        let results = Dictionary(
            uniqueKeysWithValues: zip(claimed.map(\.outTradeNo), try await database.store.record(writes, now: now + 100)))
        #expect(results["CAS-1"] == .conflict(current: .paid) && results["CAS-5"] == .conflict(current: .paid))
        #expect(results["CAS-3"] == .leaseLost(current: .closing))
        #expect(results.filter { $0.value == .applied }.count == 5)
        let rows = try await database.pool.read { db in
            try Row.fetchAll(db, sql: "SELECT out_trade_no, status, conflict, attempts FROM pending_orders ORDER BY out_trade_no")
        }
        for row in rows {
            let name: String = row["out_trade_no"]
            switch name {
            case "CAS-1", "CAS-5":
                #expect(row["status"] == "paid" && row["conflict"] == "WeChat answered closed while the row was paid", "\(row)")
            case "CAS-3": #expect(row["status"] == "closing", "\(row)")
            // Decided without a call: the claim's attempt is given back.
            default: #expect(row["status"] == "closed" && row["attempts"] == 0, "\(row)")
            }
        }
    }

    /// The rewritten rules of migration 7 refuse and accept what they did (the rest of this
    /// behaviour is in SchemaConstraintTests, AuditVocabularyTests and RetentionSQLTests).
    @Test func migration7KeepsEveryRule() throws {
        let database = try ScratchDatabase()
        defer { database.remove() }
        let id = try database.insert("COST-1", createdAt: 1_800_000_000)
        try database.pool.write { db in
            // A NULL outcome is refused by NOT NULL, as before, not by the vocabulary's trigger.
            #expect {
                try db.execute(
                    sql: """
                        INSERT INTO close_attempts (order_id, mch_id, out_trade_no, attempt, operation, started_ms, finished_ms, outcome)
                        VALUES (?, '1900000109', 'COST-1', 1, 'closeorder', 1, 2, NULL)
                        """, arguments: [id])
            } throws: { "\($0)".contains("NOT NULL constraint failed: close_attempts.outcome") }
            // A decided row set in doubt by its UPDATE OF status is cleared; an undecided one is not.
            try db.execute(sql: "UPDATE pending_orders SET status = 'failed', in_doubt = 1 WHERE id = ?", arguments: [id])
            #expect(try Int.fetchOne(db, sql: "SELECT in_doubt FROM pending_orders WHERE id = ?", arguments: [id]) == 0)
            try db.execute(sql: "UPDATE pending_orders SET status = 'pending', in_doubt = 1 WHERE id = ?", arguments: [id])
            #expect(try Int.fetchOne(db, sql: "SELECT in_doubt FROM pending_orders WHERE id = ?", arguments: [id]) == 1)
            // Finished rows, and only those, are in the retention index.
            for (status, indexed) in [("pending", 0), ("paid", 1), ("closed", 1), ("failed", 1)] {
                try db.execute(sql: "UPDATE pending_orders SET status = ? WHERE id = ?", arguments: [status, id])
                #expect(
                    try Int.fetchOne(
                        db,
                        sql:
                            "SELECT count(*) FROM pending_orders INDEXED BY pending_orders_finished WHERE status NOT IN ('pending', 'closing')"
                    ) == indexed, "\(status)")
            }
        }
    }
}

/// The SQL a connection ran (GRDB's trace runs on the writer's queue, one event at a time).
final class StatementLog: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [String] = []
    func append(_ line: String) { lock.withLock { stored.append(line.trimmingCharacters(in: .whitespacesAndNewlines)) } }
    var lines: [String] { lock.withLock { stored } }
}
