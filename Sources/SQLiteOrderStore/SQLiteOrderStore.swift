import Foundation
import GRDB
import OrderClosing

/// The `OrderStore` on GRDB. Each method is one short write transaction; claims are a single
/// `UPDATE … RETURNING`, and every later write is a compare-and-set on the claim's lease token.
public struct SQLiteOrderStore: OrderStore {
    let pool: DatabasePool
    let due: DuePolicy

    public init(pool: DatabasePool, due: DuePolicy = .standard) {
        self.pool = pool
        self.due = due
    }

    public func recordAndClaim(_ writes: [OrderWrite], now: Int64, limit: Int, excludedMerchants: Set<String>,
                               leaseOwner: String, leaseUntil: Int64) async throws -> (recorded: [WriteResult], claimed: [ClaimedOrder]) {
        let token = UUID().uuidString
        let (exclusion, excludedArguments) = Self.exclusion(excludedMerchants)
        let sql = """
            UPDATE pending_orders
            SET status = 'closing', lease_owner = ?, lease_token = ?, lease_expires_ms = ?,
                attempts = attempts + 1, first_attempt_ms = coalesce(first_attempt_ms, ?), last_attempt_ms = ?
            WHERE id IN (
                SELECT id FROM pending_orders
                WHERE status = 'pending' AND next_attempt_ms <= ?
                  AND (created_at + max(timeout_seconds, ?) + ?) * 1000 <= ? \(exclusion)
                ORDER BY next_attempt_ms LIMIT ?)
            RETURNING id, mch_id, appid, out_trade_no, sub_mch_id, sub_appid, created_at, timeout_seconds,
                      attempts, in_doubt, first_attempt_ms
            """
        var arguments: StatementArguments = [leaseOwner, token, leaseUntil, now, now, now, due.minAgeSeconds, due.marginSeconds, now]
        arguments += excludedArguments
        arguments += [limit]
        return try await pool.write { [arguments] db in
            let recorded = try Self.record(writes, now: now, db: db)
            let claimed = try Row.fetchAll(db.cachedStatement(sql: sql), arguments: arguments).map { row in
                ClaimedOrder(id: row["id"], mchID: row["mch_id"], appID: row["appid"], outTradeNo: row["out_trade_no"],
                             subMchID: row["sub_mch_id"], subAppID: row["sub_appid"], createdAt: row["created_at"],
                             timeoutSeconds: row["timeout_seconds"], attempt: row["attempts"], inDoubt: row["in_doubt"],
                             firstAttemptAt: row["first_attempt_ms"], leaseToken: token)
            }
            return (recorded, claimed)
        }
    }

    public func record(_ writes: [OrderWrite], now: Int64) async throws -> [WriteResult] {
        try await pool.write { db in try Self.record(writes, now: now, db: db) }
    }

    public func release(_ orders: [ClaimedOrder], now: Int64) async throws {
        try await pool.write { db in
            for order in orders {
                try db.execute(sql: """
                    UPDATE pending_orders
                    SET status = 'pending', attempts = max(attempts - 1, 0),
                        lease_owner = NULL, lease_token = NULL, lease_expires_ms = NULL
                    WHERE id = ? AND lease_token = ? AND status = 'closing'
                    """, arguments: [order.id, order.leaseToken])
            }
        }
    }

    public func rescueExpiredLeases(now: Int64) async throws -> Int {
        try await pool.write { db in
            try db.execute(sql: """
                UPDATE pending_orders
                SET status = 'pending', in_doubt = 1, retry_at_ms = ?,
                    last_error = 'lease expired: the daemon that held it stopped mid-call; outcome unknown',
                    lease_owner = NULL, lease_token = NULL, lease_expires_ms = NULL
                WHERE status = 'closing' AND lease_expires_ms < ?
                """, arguments: [now, now])
            return db.changesCount
        }
    }

    public func nextDueTime(excludedMerchants: Set<String>) async throws -> Int64? {
        let (exclusion, excludedArguments) = Self.exclusion(excludedMerchants)
        var arguments: StatementArguments = [due.minAgeSeconds, due.marginSeconds]
        arguments += excludedArguments
        return try await pool.read { [arguments] db in
            try Int64.fetchOne(db.cachedStatement(sql: """
                SELECT min(max(next_attempt_ms, (created_at + max(timeout_seconds, ?) + ?) * 1000)) FROM (
                    SELECT next_attempt_ms, created_at, timeout_seconds FROM pending_orders
                    WHERE status = 'pending' \(exclusion)
                    ORDER BY next_attempt_ms LIMIT 64)
                """), arguments: arguments)
        }
    }

    public func publish(_ key: String, _ value: String, now: Int64) async throws {
        try await pool.write { db in
            try db.execute(sql: """
                INSERT INTO daemon_state (key, value, updated_ms) VALUES (?, ?, ?)
                ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_ms = excluded.updated_ms
                """, arguments: [key, value, now])
        }
    }

    public func summary(now: Int64) async throws -> QueueSummary {
        try await pool.read { db in
            // Only due rows and rows in flight are counted: both are index ranges that stay small
            // while a million orders wait for their time, so a heartbeat costs nothing extra.
            let due = try Int.fetchOne(db, sql: "SELECT count(*) FROM pending_orders WHERE status = 'pending' AND next_attempt_ms <= ?", arguments: [now]) ?? 0
            let closing = try Int.fetchOne(db, sql: "SELECT count(*) FROM pending_orders WHERE status = 'closing'") ?? 0
            let oldest = try Int64.fetchOne(db, sql: "SELECT min(next_attempt_ms) FROM pending_orders WHERE status = 'pending'")
            let inDoubt = try Int.fetchOne(db, sql: "SELECT count(*) FROM pending_orders WHERE status = 'pending' AND next_attempt_ms <= ? AND in_doubt = 1", arguments: [now]) ?? 0
            return QueueSummary(counts: ["due": due, "closing": closing], oldestDueLagMs: max(0, now - (oldest ?? now)), inDoubt: inDoubt)
        }
    }

    // MARK: Writes

    static func record(_ writes: [OrderWrite], now: Int64, db: Database) throws -> [WriteResult] {
        try writes.map { write in
            let result = try apply(write, now: now, db: db)
            for attempt in write.attempts { try insert(attempt, order: write.order, db: db) }
            return result
        }
    }

    static func apply(_ write: OrderWrite, now: Int64, db: Database) throws -> WriteResult {
        let errCode = write.attempts.last?.response.errCode
        switch write.change {
        case .finish(let status, let outcome, let transactionID, let reason):
            try db.cachedStatement(sql: """
                UPDATE pending_orders
                SET status = ?, outcome = ?, transaction_id = coalesce(?, transaction_id), last_error = ?,
                    last_err_code = ?, finished_ms = ?, attempts = attempts - ?,
                    lease_owner = NULL, lease_token = NULL, lease_expires_ms = NULL
                WHERE id = ? AND lease_token = ? AND status = 'closing'
                """).execute(arguments: [status.rawValue, outcome, transactionID, reason, errCode, now,
                                         write.attempts.isEmpty ? 1 : 0,   // decided without a call: no attempt was made
                                         write.order.id, write.order.leaseToken])
        case .retry(let at, let reason, let inDoubt, let refundAttempt):
            try db.cachedStatement(sql: """
                UPDATE pending_orders
                SET status = 'pending', retry_at_ms = ?, last_error = ?, last_err_code = ?,
                    in_doubt = max(in_doubt, ?), attempts = attempts - ?,
                    lease_owner = NULL, lease_token = NULL, lease_expires_ms = NULL
                WHERE id = ? AND lease_token = ? AND status = 'closing'
                """).execute(arguments: [at, reason, errCode, inDoubt ? 1 : 0, refundAttempt ? 1 : 0, write.order.id, write.order.leaseToken])
        }
        if db.changesCount == 1 { return .applied }
        // Lost the compare-and-set: the merchant (or a rescuer) changed the row. Keep its status and
        // note what WeChat said beside it.
        let current = try String.fetchOne(db, sql: "SELECT status FROM pending_orders WHERE id = ?", arguments: [write.order.id])
            .flatMap(OrderStatus.init(rawValue:))
        if case .finish(let status, let outcome, _, _) = write.change {
            let note = "WeChat answered \(outcome ?? status.rawValue) while the row was \(current?.rawValue ?? "missing")"
            try db.execute(sql: "UPDATE pending_orders SET conflict = ? WHERE id = ?", arguments: [note, write.order.id])
        }
        return .conflict(current: current)
    }

    static func insert(_ attempt: AttemptRecord, order: ClaimedOrder, db: Database) throws {
        try db.cachedStatement(sql: """
            INSERT INTO close_attempts (order_id, mch_id, out_trade_no, attempt, operation, started_ms, finished_ms,
                endpoint, http_status, return_code, return_msg, result_code, err_code, err_code_des, outcome, error)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """).execute(arguments: [order.id, order.mchID, order.outTradeNo, attempt.attempt, attempt.call.rawValue,
                             attempt.startedAt, attempt.finishedAt, attempt.endpoint, attempt.response.httpStatus,
                             attempt.response.returnCode, attempt.response.returnMsg, attempt.response.resultCode,
                             attempt.response.errCode, attempt.response.errCodeDes, attempt.outcome, attempt.error])
    }

    static func exclusion(_ merchants: Set<String>) -> (String, StatementArguments) {
        guard !merchants.isEmpty else { return ("", []) }
        let placeholders = Array(repeating: "?", count: merchants.count).joined(separator: ", ")
        return ("AND mch_id NOT IN (\(placeholders))", StatementArguments(merchants.sorted()))
    }
}
