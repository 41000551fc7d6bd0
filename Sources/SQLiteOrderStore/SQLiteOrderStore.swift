import Foundation
import GRDB
import Logging
import OrderClosing

/// The `OrderStore` on GRDB. Each method is one short write transaction; claims are a single
/// `UPDATE … RETURNING`, and every later write is a compare-and-set on the claim's lease token.
public struct SQLiteOrderStore: OrderStore {
    let pool: DatabasePool
    let due: DueSQL
    let logger: Logger

    public init(pool: DatabasePool, due: DuePolicy = .standard, logger: Logger = Logger(label: "closeorderd.sqlite")) {
        self.pool = pool
        self.due = DueSQL(due)
        self.logger = logger
    }

    public func recordAndClaim(
        _ writes: [OrderWrite], claim: ClaimRequest, now: Int64,
        leaseOwner: String, leaseUntil: Int64
    ) async throws -> (recorded: [WriteResult], claimed: [ClaimedOrder]) {
        let token = UUID().uuidString
        let lease = Lease(owner: leaseOwner, token: token, until: leaseUntil)
        return try await pool.write { db in
            let recorded = try Self.record(writes, now: now, db: db)
            // Rate-limited merchants first, each up to its tokens, so a backlog elsewhere cannot starve them.
            var claimed: [ClaimedOrder] = []
            for (mchID, limit) in claim.merchantLimits.sorted(by: { $0.key < $1.key })
            where limit > 0 && claimed.count < claim.limit && !claim.excludedMerchants.contains(mchID) {
                claimed += try claimBatch(
                    db, now: now, limit: min(limit, claim.limit - claimed.count), lease: lease,
                    excludedMerchants: [], excludedCircuits: claim.excludedCircuits, onlyMerchant: mchID)
            }
            if claimed.count < claim.limit {
                claimed += try claimBatch(
                    db, now: now, limit: claim.limit - claimed.count, lease: lease,
                    excludedMerchants: claim.excludedMerchants.union(claim.merchantLimits.keys),
                    excludedCircuits: claim.excludedCircuits, onlyMerchant: nil)
            }
            return (recorded, claimed)
        }
    }

    struct Lease { let owner: String, token: String, until: Int64 }

    public func record(_ writes: [OrderWrite], now: Int64) async throws -> [WriteResult] {
        try await pool.write { db in try Self.record(writes, now: now, db: db) }
    }

    public func release(_ orders: [ClaimedOrder], now: Int64) async throws {
        try await pool.write { db in
            for order in orders {
                try db.execute(
                    sql: """
                        UPDATE pending_orders
                        SET status = 'pending', attempts = max(attempts - 1, 0),
                            lease_owner = NULL, lease_token = NULL, lease_expires_ms = NULL
                        WHERE id = ? AND lease_token = ? AND status = 'closing'
                        """, arguments: [order.id, order.leaseToken])
            }
        }
    }

    public func rescueExpiredLeases(now: Int64, sparing: String?) async throws -> [RescuedOrder] {
        try await rescue(
            where: "lease_expires_ms < ? AND lease_owner IS NOT ?", [now, sparing], now: now,
            why: LeaseRescue.expired)
    }

    public func rescueLeases(heldBy owner: String, now: Int64) async throws -> [RescuedOrder] {
        try await rescue(
            where: "lease_owner = ?", [owner], now: now,
            why: LeaseRescue.holderGone)
    }

    func rescue(where condition: String, _ arguments: StatementArguments, now: Int64, why: String) async throws -> [RescuedOrder]
    {
        try await pool.write { db in
            try Row.fetchAll(
                db,
                sql: """
                    UPDATE pending_orders
                    SET status = 'pending', in_doubt = 1, retry_at_ms = ?, last_error = ?,
                        lease_owner = NULL, lease_token = NULL, lease_expires_ms = NULL
                    WHERE status = 'closing' AND \(condition)
                    RETURNING mch_id, out_trade_no
                    """, arguments: [now, why] + arguments
            ).map { RescuedOrder(mchID: $0["mch_id"], outTradeNo: $0["out_trade_no"]) }
        }
    }

    public func pausedMerchants() async throws -> [String: String] {
        try await pool.read { db in
            let rows = try Row.fetchAll(db, sql: "SELECT key, value FROM daemon_state WHERE key LIKE 'pause:%'")
            return Dictionary(
                rows.map { (String(($0["key"] as String).dropFirst(6)), $0["value"] as String) }, uniquingKeysWith: { $1 })
        }
    }

    public func announce(_ daemon: DaemonRecord, now: Int64) async throws {
        let value = String(decoding: try JSONEncoder().encode(daemon), as: UTF8.self)
        try await publish(DaemonRecord.key(daemon.owner), value, now: now)
    }

    public func daemons() async throws -> [DaemonRecord] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT value, updated_ms FROM daemon_state WHERE key LIKE 'daemon:%' ORDER BY key")
                .compactMap { row in
                    guard var record = try? JSONDecoder().decode(DaemonRecord.self, from: Data((row["value"] as String).utf8))
                    else { return nil }
                    record.lastSeenMs = row["updated_ms"]
                    return record
                }
        }
    }

    public func forget(daemon owner: String) async throws {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM daemon_state WHERE key = ?", arguments: [DaemonRecord.key(owner)])
        }
    }

    public func nextDueTime(admittedBy claim: ClaimRequest) async throws -> Int64? {
        let excluded = claim.excludedMerchants.union(claim.merchantLimits.filter { $0.value <= 0 }.keys)
        let filter = Self.filter(excludedMerchants: excluded, excludedCircuits: claim.excludedCircuits, onlyMerchant: nil)
        var arguments = due.arguments
        arguments += filter.arguments
        return try await pool.read { [arguments] db in
            try Int64.fetchOne(
                db.cachedStatement(
                    sql: """
                        SELECT min(\(due.sql)) FROM (
                            SELECT next_attempt_ms, created_at, timeout_seconds FROM pending_orders
                            WHERE status = 'pending' \(filter.sql)
                            ORDER BY next_attempt_ms LIMIT 64)
                        """), arguments: arguments)
        }
    }

    public func publish(_ key: String, _ value: String, now: Int64) async throws {
        try await pool.write { db in
            try db.execute(
                sql: """
                    INSERT INTO daemon_state (key, value, updated_ms) VALUES (?, ?, ?)
                    ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_ms = excluded.updated_ms
                    """, arguments: [key, value, now])
        }
    }

    public func summary(now: Int64) async throws -> QueueSummary {
        try await pool.read { db in
            // Only due rows and rows in flight are counted: both are index ranges that stay small
            // while a million orders wait for their time, so a heartbeat costs nothing extra.
            let dueRows = """
                SELECT \(due.sql) AS due_ms, in_doubt FROM pending_orders
                WHERE status = 'pending' AND next_attempt_ms <= ? AND \(due.sql) <= ?
                """
            let row = try Row.fetchOne(
                db,
                sql: "SELECT count(*) AS due, min(due_ms) AS oldest, coalesce(sum(in_doubt), 0) AS in_doubt FROM (\(dueRows))",
                arguments: Self.dueSummaryArguments(due, now: now))
            let closing = try Int.fetchOne(db, sql: "SELECT count(*) FROM pending_orders WHERE status = 'closing'") ?? 0
            let oldest: Int64? = row?["oldest"]
            let overdue = try Row.fetchOne(db, sql: OverdueSQL.summary, arguments: OverdueSQL.arguments(due.policy, now: now))
            let oldestOverdue: Int64? = overdue?["oldest"]
            return QueueSummary(
                counts: ["due": row?["due"] ?? 0, "closing": closing],
                oldestDueLagMs: max(0, now - (oldest ?? now)), inDoubt: row?["in_doubt"] ?? 0,
                overdue: overdue?["overdue"] ?? 0, oldestOverdueMs: max(0, now - (oldestOverdue ?? now)))
        }
    }

    static func dueSummaryArguments(_ due: DueSQL, now: Int64) -> StatementArguments {
        var arguments = due.arguments
        arguments += [now]
        arguments += due.arguments
        arguments += [now]
        return arguments
    }

    // MARK: Writes

    /// A batch's writes in few statements (issue 24): each statement costs SQLite a step, a frame
    /// per trigger and the temporary b-trees of schema 1's CHECKs, whether it writes 1 row or 16.
    /// The finishes (most of a batch) go in one UPDATE, each row still a compare-and-set on its own
    /// lease; retries and contradictions one by one; then every audit row, in order, in one INSERT.
    static func record(_ writes: [OrderWrite], now: Int64, db: Database) throws -> [WriteResult] {
        let now = try feedStamp(for: writes, db, now: now)  // finished_ms: above every committed one (the outcome feed)
        let finishes = writes.filter(\.isFinish)
        // Together only when no order is written twice in the batch: then the rows are disjoint and
        // the finishes may go first without changing what any write finds.
        let together = finishes.count > 1 && Set(writes.map(\.order.id)).count == writes.count
        var finished: Set<Int64> = []
        if together {
            var start = finishes.startIndex
            while start < finishes.endIndex {
                let chunk = finishes[start..<min(start + WriteSQL.finishesPerStatement, finishes.endIndex)]
                finished.formUnion(try finish(chunk, now: now, db: db))
                start = chunk.endIndex
            }
        }
        let results = try writes.map { write in
            guard together, write.isFinish else { return try apply(write, now: now, db: db) }
            return finished.contains(write.order.id) ? .applied : try settleLost(write, db: db)
        }
        let attempts = writes.flatMap { write in write.attempts.map { (attempt: $0, order: write.order) } }
        var start = attempts.startIndex
        while start < attempts.endIndex {
            let chunk = attempts[start..<min(start + WriteSQL.attemptsPerStatement, attempts.endIndex)]
            try insert(chunk, db: db)
            start = chunk.endIndex
        }
        return results
    }

    static func apply(_ write: OrderWrite, now: Int64, db: Database) throws -> WriteResult {
        // Only a verified answer's err_code is WeChat's word; an unverified one stays in the audit row.
        let errCode = write.attempts.last.flatMap { $0.response.verified ? $0.response.errCode : nil }
        let order = write.order
        switch write.change {
        case .finish:
            var arguments = finishValues(write)
            arguments += [now]
            try db.cachedStatement(sql: WriteSQL.finishes(1)).execute(arguments: arguments)
        case .retry(let at, let reason, let inDoubt, let refundAttempt):
            try db.cachedStatement(sql: WriteSQL.retry).execute(arguments: [
                at, reason, errCode, inDoubt ? 1 : 0, refundAttempt ? 1 : 0, order.id, order.leaseToken,
            ])
        case .contradiction(let text):
            try db.cachedStatement(sql: WriteSQL.contradiction).execute(arguments: [
                text, text, errCode, now, order.id, order.leaseToken,
            ])
        }
        return db.changesCount == 1 ? .applied : try settleLost(write, db: db)
    }

    /// `finishes`, each a compare-and-set on its lease, in one UPDATE; the ids it wrote.
    static func finish(_ finishes: ArraySlice<OrderWrite>, now: Int64, db: Database) throws -> Set<Int64> {
        var arguments = StatementArguments()
        for write in finishes { arguments += finishValues(write) }
        arguments += [now]
        return try Set(
            Int64.fetchAll(
                db.cachedStatement(sql: WriteSQL.finishes(finishes.count) + " RETURNING pending_orders.id"),
                arguments: arguments))
    }

    /// One finish's row of `WriteSQL.finishes`' VALUES.
    static func finishValues(_ write: OrderWrite) -> StatementArguments {
        guard case .finish(let status, let outcome, let transactionID, let reason) = write.change else { return [] }
        // Only a verified answer's err_code is WeChat's word; an unverified one stays in the audit row.
        let errCode = write.attempts.last.flatMap { $0.response.verified ? $0.response.errCode : nil }
        return [
            write.order.id, write.order.leaseToken, status.rawValue, outcome, transactionID, reason, errCode,
            write.attempts.isEmpty ? 1 : 0,  // decided without a call: no attempt was made
            // A rescued row takes WeChat's verdict (closed, paid), not a local decision.
            !write.attempts.isEmpty && status != .failed,
        ]
    }

    /// Lost the compare-and-set: the merchant marked it paid, or another daemon's rescue took it.
    static func settleLost(_ write: OrderWrite, db: Database) throws -> WriteResult {
        let order = write.order
        let row = try Row.fetchOne(db, sql: "SELECT status, outcome FROM pending_orders WHERE id = ?", arguments: [order.id])
        let lost = write.lostCompareAndSet(
            current: (row?["status"] as String?).flatMap(OrderStatus.init(rawValue:)), outcome: row?["outcome"])
        if let note = lost.conflict {
            try db.execute(sql: "UPDATE pending_orders SET conflict = ? WHERE id = ?", arguments: [note, order.id])
        }
        return lost.result
    }

    /// `close_attempts` rows, one per call, in one statement.
    static func insert(_ rows: ArraySlice<(attempt: AttemptRecord, order: ClaimedOrder)>, db: Database) throws {
        var arguments = StatementArguments()
        for (attempt, order) in rows {
            arguments += [
                order.id, order.mchID, order.outTradeNo, attempt.attempt, attempt.call.rawValue,
                attempt.startedAt, attempt.finishedAt, attempt.endpoint, attempt.response.httpStatus,
                attempt.response.returnCode, attempt.response.returnMsg, attempt.response.resultCode,
                attempt.response.errCode, attempt.response.errCodeDes, attempt.outcome.rawValue, attempt.error,
                attempt.response.verified,
            ]
        }
        try db.cachedStatement(sql: WriteSQL.attempts(rows.count)).execute(arguments: arguments)
    }

    /// `AND …` over merchants and circuits, with its arguments.
    static func filter(
        excludedMerchants: Set<String>, excludedCircuits: Set<CircuitKey>,
        onlyMerchant: String?
    ) -> (sql: String, arguments: StatementArguments) {
        var sql = ""
        var arguments = StatementArguments()
        if let onlyMerchant {
            sql += " AND mch_id = ?"
            arguments += [onlyMerchant]
        }
        if !excludedMerchants.isEmpty {
            sql += " AND mch_id NOT IN (\(Array(repeating: "?", count: excludedMerchants.count).joined(separator: ", ")))"
            arguments += StatementArguments(excludedMerchants.sorted())
        }
        if !excludedCircuits.isEmpty {
            sql +=
                " AND (mch_id, coalesce(sub_mch_id, '')) NOT IN (VALUES \(Array(repeating: "(?, ?)", count: excludedCircuits.count).joined(separator: ", ")))"
            for key in excludedCircuits.sorted() { arguments += [key.mchID, key.subMchID ?? ""] }
        }
        return (sql, arguments)
    }
}

extension OrderWrite {
    var isFinish: Bool { if case .finish = change { true } else { false } }
}
