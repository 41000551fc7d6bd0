import Foundation
import GRDB
import OrderClosing

/// The operator commands' queries on SQLite (`OperatorStore`): `status`, `show`, `list`, `pause`,
/// `resume`. Full scans are fine here: an operator runs these by hand, unlike the daemon's heartbeat.
extension SQLiteOrderStore: OperatorStore {
    public func status(now: Int64) async throws -> StatusReport {
        let policy = due.policy
        return try await pool.read { db in
            var counts: [OrderStatus: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT status, count(*) AS n FROM pending_orders GROUP BY status") {
                if let status = OrderStatus(rawValue: row["status"]) { counts[status] = row["n"] }
            }
            let overdueCount =
                try Row.fetchOne(db, sql: OverdueSQL.summary, arguments: OverdueSQL.arguments(policy, now: now))?["overdue"]
                as Int? ?? 0
            let oldest = try Row.fetchOne(
                db,
                sql: """
                    SELECT out_trade_no, mch_id, \(OverdueSQL.ownDue) AS due_ms FROM pending_orders
                    WHERE \(OverdueSQL.open) AND \(OverdueSQL.ownDue) <= ? ORDER BY due_ms LIMIT 1
                    """, arguments: OverdueSQL.arguments(policy, now: now))
            let overdue = oldest.map { row in
                StatusReport.Overdue(outTradeNo: row["out_trade_no"], mchID: row["mch_id"], dueMs: row["due_ms"])
            }
            let inDoubt =
                try Int.fetchOne(
                    db, sql: "SELECT count(*) FROM pending_orders WHERE in_doubt = 1 AND status IN ('pending', 'closing')") ?? 0
            let state = try Row.fetchAll(db, sql: "SELECT key, value, updated_ms FROM daemon_state ORDER BY key").map { row in
                DaemonStateRow(key: row["key"], value: row["value"], updatedMs: row["updated_ms"]) {
                    try? JSONDecoder().decode(DaemonRecord.self, from: Data($0.utf8))
                }
            }
            let failedRecently =
                try Int.fetchOne(
                    db, sql: "SELECT count(*) FROM pending_orders WHERE status = 'failed' AND finished_ms >= ?",
                    arguments: [now - StatusReport.failedWindowMs]) ?? 0
            return StatusReport(
                now: now, counts: counts, overdue: overdueCount, oldestOverdue: overdue, inDoubt: inDoubt,
                failedLastDay: failedRecently, state: state)
        }
    }

    public func show(outTradeNo: String, mchID: String?) async throws -> [OrderDetail] {
        try await pool.read { db in
            var sql = "SELECT * FROM pending_orders WHERE out_trade_no = ?"
            var arguments: StatementArguments = [outTradeNo]
            if let mchID {
                sql += " AND mch_id = ?"
                arguments += [mchID]
            }
            return try Row.fetchAll(db, sql: sql + " ORDER BY mch_id", arguments: arguments).map { row in
                let attempts = try Row.fetchAll(
                    db, sql: "SELECT * FROM close_attempts WHERE order_id = ? ORDER BY id",
                    arguments: [row["id"] as Int64])
                return OrderDetail(order: try Self.order(row), attempts: try attempts.map(Self.attempt))
            }
        }
    }

    /// A `pending_orders` row as its typed value.
    static func order(_ row: Row) throws -> OrderDetail.Order {
        OrderDetail.Order(
            id: row["id"], mchID: row["mch_id"], appID: row["appid"], outTradeNo: row["out_trade_no"],
            subMchID: row["sub_mch_id"], subAppID: row["sub_appid"], createdAt: row["created_at"],
            timeoutSeconds: row["timeout_seconds"],
            status: try OrderDetail.word(row["status"], column: "pending_orders.status"),
            outcome: try (row["outcome"] as String?).map { try OrderDetail.word($0, column: "pending_orders.outcome") },
            attempts: row["attempts"], lastError: row["last_error"], lastErrCode: row["last_err_code"],
            transactionID: row["transaction_id"], inDoubt: row["in_doubt"], conflict: row["conflict"],
            firstAttemptMs: row["first_attempt_ms"], lastAttemptMs: row["last_attempt_ms"], finishedMs: row["finished_ms"],
            retryAtMs: row["retry_at_ms"], leaseOwner: row["lease_owner"], leaseToken: row["lease_token"],
            leaseExpiresMs: row["lease_expires_ms"], nextAttemptMs: row["next_attempt_ms"])
    }

    /// A `close_attempts` row as its typed value.
    static func attempt(_ row: Row) throws -> OrderDetail.Attempt {
        OrderDetail.Attempt(
            id: row["id"], orderID: row["order_id"], mchID: row["mch_id"], outTradeNo: row["out_trade_no"],
            attempt: row["attempt"], call: try OrderDetail.word(row["operation"], column: "close_attempts.operation"),
            startedMs: row["started_ms"], finishedMs: row["finished_ms"], endpoint: row["endpoint"],
            httpStatus: row["http_status"], returnCode: row["return_code"], returnMsg: row["return_msg"],
            resultCode: row["result_code"], errCode: row["err_code"], errCodeDes: row["err_code_des"],
            outcome: try OrderDetail.word(row["outcome"], column: "close_attempts.outcome"), error: row["error"],
            verified: row["verified"])
    }

    public func list(_ filter: OrderFilter, now: Int64) async throws -> [OrderLine] {
        let ownDue = DueFormula.sqlite.ownDue(minAge: "\(due.policy.minAgeSeconds)", margin: "\(due.policy.marginSeconds)")
        var conditions: [String] = []
        var arguments = StatementArguments()
        if let status = filter.status {
            conditions.append("status = ?")
            arguments += [status.rawValue]
        }
        if let mchID = filter.mchID {
            conditions.append("mch_id = ?")
            arguments += [mchID]
        }
        if filter.overdueOnly {
            conditions.append("status IN ('pending', 'closing') AND \(ownDue) <= ?")
            arguments += [now]
        }
        if let age = filter.olderThanSeconds {
            conditions.append("created_at <= ?")
            arguments += [now / 1000 - age]
        }
        let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        arguments += [filter.limit]
        return try await pool.read { [arguments] db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT mch_id, out_trade_no, status, outcome, attempts, in_doubt, created_at, next_attempt_ms, last_error,
                           \(ownDue) AS due_ms
                    FROM pending_orders \(whereClause) ORDER BY created_at DESC, id DESC LIMIT ?
                    """, arguments: arguments
            ).map { row in
                OrderLine(
                    mchID: row["mch_id"], outTradeNo: row["out_trade_no"], status: row["status"], outcome: row["outcome"],
                    attempts: row["attempts"], inDoubt: row["in_doubt"], createdAt: row["created_at"], dueMs: row["due_ms"],
                    nextAttemptMs: row["next_attempt_ms"], lastError: row["last_error"], now: now)
            }
        }
    }

    public func pause(mchID: String, reason: String, now: Int64) async throws {
        try await publish("pause:\(mchID)", reason, now: now)
    }

    public func resume(mchID: String) async throws -> Bool {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM daemon_state WHERE key = ?", arguments: ["pause:\(mchID)"])
            return db.changesCount > 0
        }
    }
}
