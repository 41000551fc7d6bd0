import Foundation
import GRDB
import OrderClosing
import OrderClosingTestSupport
import StoreTestSupport
import Testing

@testable import SQLiteOrderStore

/// Issue 21 on SQLite: one row can never stop the queue. `timeout_seconds` is bounded at INSERT
/// (migration 5), rows stored before it are made harmless, and a row that still fails its claim
/// ends failed while the others are claimed. (PostgreSQL: `PostgresStoreTests`; both stores'
/// shared behaviour: `StoreConformanceTests`.)
@Suite struct OneRowTests {
    static let created: Int64 = 1_800_000_000
    static let dueMs = DuePolicy.standard.dueTime(createdAt: created, timeoutSeconds: 0)
    static let bound = DuePolicy.maxTimeoutSeconds

    func insert(
        _ pool: DatabasePool, _ outTradeNo: String, createdAt: Int64 = created, timeout: Int64, status: String = "pending"
    ) throws {
        try pool.write { db in
            try db.execute(
                sql: """
                    INSERT INTO pending_orders (mch_id, appid, out_trade_no, created_at, timeout_seconds, status)
                    VALUES ('1900000109', 'wx1', ?, ?, ?, ?)
                    """, arguments: [outTradeNo, createdAt, timeout, status])
        }
    }

    @Test func theBoundIsOneNumberInTheCodeAndBothSchemas() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        for file in ["migrations/0005_bound_timeout_seconds.sql", "migrations/postgresql/0005_bound_timeout_seconds.sql"] {
            let sql = try String(contentsOf: root.appendingPathComponent(file), encoding: .utf8)
            #expect(sql.contains("timeout_seconds > \(Self.bound)"), "\(file) does not spell DuePolicy.maxTimeoutSeconds")
        }
        // The largest due time any admitted row and any accepted policy can give fits with room to spare.
        let widest = try DuePolicy(minAgeSeconds: DuePolicy.maxMinAgeSeconds, marginSeconds: DuePolicy.maxMarginSeconds)
        let seconds = 4_102_444_799 + max(Self.bound, widest.minAgeSeconds) + widest.marginSeconds
        #expect(!seconds.multipliedReportingOverflow(by: 1000).overflow)
        #expect(widest.dueTime(createdAt: 4_102_444_799, timeoutSeconds: Self.bound) < Int64.max / 1_000_000)
        #expect(throws: PolicyError.self) { try DuePolicy(minAgeSeconds: DuePolicy.maxMinAgeSeconds + 1) }
        #expect(throws: PolicyError.self) { try DuePolicy(marginSeconds: DuePolicy.maxMarginSeconds + 1) }
    }

    @Test func aTimeoutBeyondTenYearsIsRefusedAtInsertAndUpdateNamingTheColumn() throws {
        let database = try ScratchDatabase()
        defer { database.remove() }
        try insert(database.pool, "AT-THE-BOUND", timeout: Self.bound)
        // The issue's row, and one just past the bound: refused with the column named.
        for (name, createdAt, timeout) in [
            ("ISSUE", Int64(1_700_000_000), Int64(9_223_370_336_854_775)), ("ONE-MORE", Self.created, Self.bound + 1),
        ] {
            #expect("\(name) was accepted") { try insert(database.pool, name, createdAt: createdAt, timeout: timeout) } throws: {
                error in
                "\(error)".contains("timeout_seconds must be from 0 to 315360000 (10 years)")
            }
        }
        // created_at = now with that timeout overflows next_attempt_ms before any trigger runs: SQLite
        // refuses it naming that column (a rebuilt table would be needed to name timeout_seconds).
        #expect {
            try insert(database.pool, "NOW", createdAt: Int64(Date().timeIntervalSince1970), timeout: 9_223_370_336_854_775)
        } throws: { error in
            "\(error)".contains("next_attempt_ms") || "\(error)".contains("timeout_seconds")
        }
        #expect {
            try database.pool.write { db in try db.execute(sql: "UPDATE pending_orders SET timeout_seconds = timeout_seconds + 1")
            }
        } throws: { error in
            "\(error)".contains("timeout_seconds must be from 0 to 315360000")
        }
        #expect(
            try database.pool.read { db in try String.fetchAll(db, sql: "SELECT out_trade_no FROM pending_orders") } == [
                "AT-THE-BOUND"
            ])
    }

    /// A version-4 file holding the issue's rows is upgraded without failing, and made harmless.
    @Test func rowsStoredBeforeTheBoundAreMadeHarmlessByTheMigration() async throws {
        let database = try OlderSchemaDatabase(version: 4)
        defer { database.remove() }
        try insert(database.pool, "HUGE-PENDING", createdAt: 1_700_000_000, timeout: 9_223_370_336_854_775)
        try insert(database.pool, "HUGE-PAID", timeout: Self.bound * 2, status: "paid")
        try insert(database.pool, "FINE", timeout: 900)
        try insert(database.pool, "DOUBTED", timeout: 0)
        try await database.pool.write { db in
            try db.execute(
                sql:
                    "UPDATE pending_orders SET status = 'closed', outcome = 'closed', in_doubt = 1, finished_ms = 1 WHERE out_trade_no = 'DOUBTED'"
            )
        }
        #expect(try Migrations.migrate(database.pool) == Migrations.embedded.map(\.version).filter { $0 > 4 })
        let rows = try database.pool.read { db in
            Dictionary(
                uniqueKeysWithValues: try Row.fetchAll(db, sql: "SELECT * FROM pending_orders").map {
                    ($0["out_trade_no"] as String, $0)
                })
        }
        let huge = try #require(rows["HUGE-PENDING"])
        #expect(
            huge["status"] as String == "failed" && huge["timeout_seconds"] as Int64 == Self.bound
                && huge["finished_ms"] as Int64? != nil)
        #expect(
            (huge["last_error"] as String?)?.hasPrefix("timeout_seconds was 9223370336854775, beyond 315360000 (10 years)")
                == true)
        let paid = try #require(rows["HUGE-PAID"])
        #expect(paid["status"] as String == "paid" && paid["timeout_seconds"] as Int64 == Self.bound)
        #expect((paid["last_error"] as String?)?.contains("was \(Self.bound * 2)") == true)
        #expect(rows["FINE"]?["timeout_seconds"] as Int64? == 900 && rows["FINE"]?["last_error"] as String? == nil)
        #expect(rows["DOUBTED"]?["in_doubt"] as Int? == 0, "a decided row is not in doubt")
        // Every query that computes a due time works on the upgraded file, `list` included.
        let store = SQLiteOrderStore(pool: database.pool)
        let now = (Self.created + 1_000) * 1000
        #expect(try await store.list(OrderFilter(limit: 10), now: now).count == 4)
        _ = try await store.status(now: now)
        _ = try await store.summary(now: now)
        #expect(try await store.nextDueTime(admittedBy: ClaimRequest(limit: 10)) != nil)
        #expect(
            try await store.claimDue(ClaimRequest(limit: 10), now: now, leaseOwner: "me", leaseUntil: now + 60_000).map(
                \.outTradeNo) == ["FINE"])
    }

    /// Defence in depth: a row whose claim fails by its own values (here `attempts` at the top of
    /// its range, which no closeorderd writes) ends failed with the reason; the others are claimed.
    @Test func aRowThatFailsItsClaimEndsFailedAndTheOthersAreClaimed() async throws {
        let database = try ScratchDatabase()
        defer { database.remove() }
        for index in 0..<5 { try database.insert("OK-\(index)", createdAt: Self.created + Int64(index)) }
        try database.insert("BROKEN", createdAt: Self.created - 1)  // first in line
        try await database.pool.write { db in
            try db.execute(sql: "UPDATE pending_orders SET attempts = 9223372036854775807 WHERE out_trade_no = 'BROKEN'")
        }
        let now = Self.dueMs + 10_000
        let claimed = try await database.store.claimDue(
            ClaimRequest(limit: 4), now: now, leaseOwner: "me", leaseUntil: now + 60_000)
        // The batch's four candidates were tried one by one: three claimed, BROKEN failed.
        #expect(claimed.map(\.outTradeNo) == ["OK-0", "OK-1", "OK-2"])
        let broken = try #require(try database.stored("BROKEN"))
        #expect(broken.status == .failed && !broken.inDoubt)
        #expect(broken.lastError?.hasPrefix("closeorderd could not claim this row: ") == true)
        #expect(broken.lastError?.contains("attempts") == true, "the reason names the column: \(broken.lastError ?? "nil")")
        // The next claim is an ordinary one.
        #expect(
            try await database.store.claimDue(ClaimRequest(limit: 4), now: now, leaseOwner: "me", leaseUntil: now + 60_000).map(
                \.outTradeNo) == ["OK-3", "OK-4"])
    }
}
