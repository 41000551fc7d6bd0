import Foundation
import OrderClosing
import PostgresNIO

/// The operator commands' queries on PostgreSQL (`OperatorStore`), with the SQLite store's
/// semantics: the same counts, the same definition of due and overdue (`PostgresDueSQL`), the same
/// reasons. "Now" is the store's clock (`PostgresStoreClock`): in production PostgreSQL's, the one
/// the daemons claim by, so `status` never calls an order overdue that no daemon would take yet.
/// Each report is read in one transaction, so its counts and its "now" belong together. Keys are
/// ordered bytewise (`COLLATE "C"`), as SQLite orders them, whatever the database's collation.
extension PostgresOrderStore: OperatorStore {
    public func status(now: Int64) async throws -> StatusReport {
        var statement = PostgresStatement()
        let clock = ClockSQL(self.clock, callerNow: now, in: &statement)
        let ownDue = due.ownDue(in: &statement)
        let window = statement.bind(StatusReport.failedWindowMs)
        let overdue = """
            status IN ('pending', 'closing') AND \(DueFormula.postgres.floor) <= \(clock.now) / 1000
            AND \(ownDue) <= \(clock.now)
            """
        let facts = statement.query(
            """
            SELECT \(clock.now) AS now_ms,
                   (SELECT count(*) FROM pending_orders WHERE \(overdue)) AS overdue,
                   (SELECT count(*) FROM pending_orders WHERE in_doubt = 1 AND status IN ('pending', 'closing')) AS in_doubt,
                   (SELECT count(*) FROM pending_orders WHERE status = 'failed' AND finished_ms >= \(clock.now) - \(window)::bigint) AS failed
            """)
        let oldestQuery = statement.query(
            """
            SELECT out_trade_no, mch_id, \(ownDue) AS due_ms, \(clock.now) AS now_ms FROM pending_orders
            WHERE \(overdue) ORDER BY due_ms LIMIT 1
            """)
        return try await transaction { connection in
            var counts: [OrderStatus: Int] = [:]
            for row in try await connection.send("SELECT status, count(*) FROM pending_orders GROUP BY status", logger: logger) {
                let (status, count) = try row.decode((String, Int64).self)
                if let status = OrderStatus(rawValue: status) { counts[status] = Int(count) }
            }
            guard let row = try await connection.send(facts, logger: logger).first?.makeRandomAccess() else {
                throw PostgresStoreError("the status query returned no row")
            }
            let now: Int64 = try row.value("now_ms")
            let oldest = try await connection.send(oldestQuery, logger: logger).first.map { row in
                let row = row.makeRandomAccess()
                return StatusReport.Overdue(
                    outTradeNo: try row.value("out_trade_no"), mchID: try row.value("mch_id"),
                    dueMs: try row.value("due_ms"), now: now)
            }
            let rows = try await connection.send(
                "SELECT key, value, updated_ms FROM daemon_state ORDER BY key COLLATE \"C\"",
                logger: logger
            ).map { row in
                let (key, value, updated) = try row.decode((String, String, Int64).self)
                return (key: key, value: value, updatedMs: updated)
            }
            let state = StatusReport.DaemonState(rows: rows, now: now) {
                try? JSONDecoder().decode(DaemonRecord.self, from: Data($0.utf8))
            }
            return StatusReport(
                counts: counts, overdue: Int(try row.value("overdue", as: Int64.self)), oldestOverdue: oldest,
                inDoubt: Int(try row.value("in_doubt", as: Int64.self)),
                failedLastDay: Int(try row.value("failed", as: Int64.self)),
                state: state)
        }
    }

    public func show(outTradeNo: String, mchID: String?) async throws -> [OrderDetail] {
        var statement = PostgresStatement()
        var sql = "SELECT * FROM pending_orders WHERE out_trade_no = \(statement.bind(outTradeNo))::text"
        if let mchID { sql += " AND mch_id = \(statement.bind(mchID))::text" }
        let orders = statement.query(sql + " ORDER BY mch_id COLLATE \"C\"")
        return try await transaction { connection in
            var details: [OrderDetail] = []
            for row in try await connection.send(orders, logger: logger) {
                let id: Int64 = try row.makeRandomAccess().value("id")
                let attempts = try await connection.send(
                    "SELECT * FROM close_attempts WHERE order_id = \(id) ORDER BY id",
                    logger: logger)
                details.append(OrderDetail(order: try Self.fields(row), attempts: try attempts.map(Self.fields)))
            }
            return details
        }
    }

    /// A row's columns as JSON sees them: integers, floating point, text; NULL as null.
    static func fields(_ row: PostgresRow) throws -> [String: FieldValue] {
        var fields: [String: FieldValue] = [:]
        for cell in row {
            guard cell.bytes != nil else {
                fields[cell.columnName] = .null
                continue
            }
            switch cell.dataType {
            case .int2, .int4, .int8: fields[cell.columnName] = .int(try cell.decode(Int64.self, context: .default))
            case .float4, .float8: fields[cell.columnName] = .double(try cell.decode(Double.self, context: .default))
            case .text, .varchar, .bpchar, .name: fields[cell.columnName] = .text(try cell.decode(String.self, context: .default))
            default: fields[cell.columnName] = .text("<\(cell.dataType)>")
            }
        }
        return fields
    }

    public func list(_ filter: OrderFilter, now: Int64) async throws -> [OrderLine] {
        var statement = PostgresStatement()
        let clock = ClockSQL(self.clock, callerNow: now, in: &statement)
        let ownDue = due.ownDue(in: &statement)
        var conditions: [String] = []
        if let status = filter.status { conditions.append("status = \(statement.bind(status.rawValue))::text") }
        if let mchID = filter.mchID { conditions.append("mch_id = \(statement.bind(mchID))::text") }
        if filter.overdueOnly { conditions.append("status IN ('pending', 'closing') AND \(ownDue) <= \(clock.now)") }
        if let age = filter.olderThanSeconds {
            conditions.append("created_at <= \(clock.now) / 1000 - \(statement.bind(age))::bigint")
        }
        let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let limit = statement.bind(filter.limit)
        let query = statement.query(
            """
            SELECT mch_id, out_trade_no, status, outcome, attempts, in_doubt, created_at, next_attempt_ms, last_error,
                   \(ownDue) AS due_ms, \(clock.now) AS now_ms
            FROM pending_orders \(whereClause) ORDER BY created_at DESC, id DESC LIMIT \(limit)::bigint
            """)
        return try await transaction { connection in try await connection.send(query, logger: logger) }.map { row in
            let row = row.makeRandomAccess()
            return OrderLine(
                mchID: try row.value("mch_id"), outTradeNo: try row.value("out_trade_no"), status: try row.value("status"),
                outcome: try row.value("outcome"), attempts: Int(try row.value("attempts", as: Int64.self)),
                inDoubt: try row.value("in_doubt", as: Int.self) != 0, createdAt: try row.value("created_at"),
                dueMs: try row.value("due_ms"), nextAttemptMs: try row.value("next_attempt_ms"),
                lastError: try row.value("last_error"), now: try row.value("now_ms"))
        }
    }

    public func pause(mchID: String, reason: String, now: Int64) async throws {
        try await publish("pause:\(mchID)", reason, now: now)
    }

    public func resume(mchID: String) async throws -> Bool {
        let key = "pause:\(mchID)"
        return try await connection { connection in
            try await connection.send("DELETE FROM daemon_state WHERE key = \(key) RETURNING key", logger: logger)
        }.count > 0
    }
}
