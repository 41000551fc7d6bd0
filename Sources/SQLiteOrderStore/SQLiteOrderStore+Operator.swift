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
                StatusReport.Overdue(outTradeNo: row["out_trade_no"], mchID: row["mch_id"], dueMs: row["due_ms"], now: now)
            }
            let inDoubt =
                try Int.fetchOne(
                    db, sql: "SELECT count(*) FROM pending_orders WHERE in_doubt = 1 AND status IN ('pending', 'closing')") ?? 0
            let rows = try Row.fetchAll(db, sql: "SELECT key, value, updated_ms FROM daemon_state ORDER BY key").map { row in
                (key: row["key"] as String, value: row["value"] as String, updatedMs: row["updated_ms"] as Int64)
            }
            let state = StatusReport.DaemonState(rows: rows, now: now) {
                try? JSONDecoder().decode(DaemonRecord.self, from: Data($0.utf8))
            }
            let failedRecently =
                try Int.fetchOne(
                    db, sql: "SELECT count(*) FROM pending_orders WHERE status = 'failed' AND finished_ms >= ?",
                    arguments: [now - StatusReport.failedWindowMs]) ?? 0
            return StatusReport(
                counts: counts, overdue: overdueCount, oldestOverdue: overdue, inDoubt: inDoubt, failedLastDay: failedRecently,
                state: state)
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
                return OrderDetail(order: Self.fields(row), attempts: attempts.map(Self.fields))
            }
        }
    }

    static func fields(_ row: Row) -> [String: FieldValue] {
        var fields: [String: FieldValue] = [:]
        for column in row.columnNames {
            switch row[column] as DatabaseValue? {
            case .none: fields[column] = .null
            case .some(let value):
                switch value.storage {
                case .null: fields[column] = .null
                case .int64(let number): fields[column] = .int(number)
                case .double(let number): fields[column] = .double(number)
                case .string(let text): fields[column] = .text(text)
                case .blob: fields[column] = .text("<blob>")
                }
            }
        }
        return fields
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
