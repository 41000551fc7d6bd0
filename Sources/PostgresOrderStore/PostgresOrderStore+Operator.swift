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
                    outTradeNo: try row.value("out_trade_no"), mchID: try row.value("mch_id"), dueMs: try row.value("due_ms"))
            }
            let state = try await connection.send(
                "SELECT key, value, updated_ms FROM daemon_state ORDER BY key COLLATE \"C\"",
                logger: logger
            ).map { row in
                let (key, value, updated) = try row.decode((String, String, Int64).self)
                return DaemonStateRow(key: key, value: value, updatedMs: updated) {
                    try? JSONDecoder().decode(DaemonRecord.self, from: Data($0.utf8))
                }
            }
            return StatusReport(
                now: now, counts: counts, overdue: Int(try row.value("overdue", as: Int64.self)), oldestOverdue: oldest,
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
                let order = try Self.order(row.makeRandomAccess())
                let attempts = try await connection.send(
                    "SELECT * FROM close_attempts WHERE order_id = \(order.id) ORDER BY id",
                    logger: logger)
                details.append(OrderDetail(order: order, attempts: try attempts.map { try Self.attempt($0.makeRandomAccess()) }))
            }
            return details
        }
    }

    /// A `pending_orders` row as its typed value.
    static func order(_ row: PostgresRandomAccessRow) throws -> OrderDetail.Order {
        OrderDetail.Order(
            id: try row.value("id"), mchID: try row.value("mch_id"), appID: try row.value("appid"),
            outTradeNo: try row.value("out_trade_no"), subMchID: try row.value("sub_mch_id"),
            subAppID: try row.value("sub_appid"), createdAt: try row.value("created_at"),
            timeoutSeconds: try row.value("timeout_seconds"),
            status: try OrderDetail.word(try row.value("status"), column: "pending_orders.status"),
            outcome: try (try row.value("outcome", as: String?.self)).map {
                try OrderDetail.word($0, column: "pending_orders.outcome")
            },
            attempts: Int(try row.value("attempts", as: Int64.self)), lastError: try row.value("last_error"),
            lastErrCode: try row.value("last_err_code"), transactionID: try row.value("transaction_id"),
            inDoubt: try row.value("in_doubt", as: Int64.self) != 0, conflict: try row.value("conflict"),
            firstAttemptMs: try row.value("first_attempt_ms"), lastAttemptMs: try row.value("last_attempt_ms"),
            finishedMs: try row.value("finished_ms"), retryAtMs: try row.value("retry_at_ms"),
            leaseOwner: try row.value("lease_owner"), leaseToken: try row.value("lease_token"),
            leaseExpiresMs: try row.value("lease_expires_ms"), nextAttemptMs: try row.value("next_attempt_ms"))
    }

    /// A `close_attempts` row as its typed value.
    static func attempt(_ row: PostgresRandomAccessRow) throws -> OrderDetail.Attempt {
        OrderDetail.Attempt(
            id: try row.value("id"), orderID: try row.value("order_id"), mchID: try row.value("mch_id"),
            outTradeNo: try row.value("out_trade_no"), attempt: Int(try row.value("attempt", as: Int64.self)),
            call: try OrderDetail.word(try row.value("operation"), column: "close_attempts.operation"),
            startedMs: try row.value("started_ms"), finishedMs: try row.value("finished_ms"),
            endpoint: try row.value("endpoint"), httpStatus: try row.value("http_status", as: Int64?.self).map { Int($0) },
            returnCode: try row.value("return_code"), returnMsg: try row.value("return_msg"),
            resultCode: try row.value("result_code"), errCode: try row.value("err_code"),
            errCodeDes: try row.value("err_code_des"),
            outcome: try OrderDetail.word(try row.value("outcome"), column: "close_attempts.outcome"),
            error: try row.value("error"), verified: try row.value("verified", as: Int64?.self).map { $0 != 0 })
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
