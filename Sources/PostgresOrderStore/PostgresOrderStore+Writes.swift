import OrderClosing
import PostgresNIO

/// The daemon's writes: outcomes as compare-and-sets on the lease token, and the audit rows.
extension PostgresOrderStore {
    func record(_ writes: [OrderWrite], now: Int64, on connection: PostgresConnection) async throws -> [WriteResult] {
        var results: [WriteResult] = []
        for write in writes {
            results.append(try await apply(write, now: now, on: connection))
            for attempt in write.attempts { try await insert(attempt, order: write.order, on: connection) }
        }
        return results
    }

    func apply(_ write: OrderWrite, now: Int64, on connection: PostgresConnection) async throws -> WriteResult {
        // Only a verified answer's err_code is WeChat's word; an unverified one stays in the audit row.
        let errCode = write.attempts.last.flatMap { $0.response.verified ? $0.response.errCode : nil }
        let order = write.order
        var statement = PostgresStatement()
        let clock = ClockSQL(self.clock, callerNow: now, in: &statement)
        let (id, token) = (statement.bind(order.id), statement.bind(order.leaseToken))
        let sql: String
        switch write.change {
        case .finish(let status, let outcome, let transactionID, let reason):
            // A rescued row takes WeChat's verdict (closed, paid), not a local decision.
            let rescuedMayTakeIt = !write.attempts.isEmpty && status != .failed
            sql = """
                UPDATE pending_orders
                SET status = \(statement.bind(status.rawValue))::text, outcome = \(statement.bind(outcome))::text,
                    transaction_id = coalesce(\(statement.bind(transactionID))::text, transaction_id),
                    last_error = \(statement.bind(reason))::text, last_err_code = \(statement.bind(errCode))::text,
                    finished_ms = \(clock.now), in_doubt = 0,
                    attempts = greatest(attempts - \(statement.bind(write.attempts.isEmpty ? 1 : 0))::bigint, 0),   -- decided without a call: no attempt was made
                    lease_owner = NULL, lease_token = NULL, lease_expires_ms = NULL
                WHERE id = \(id)::bigint AND (lease_token = \(token)::text AND status = 'closing'
                    OR status = 'pending' AND lease_token IS NULL AND in_doubt = 1 AND \(statement.bind(rescuedMayTakeIt))::boolean)
                RETURNING id
                """
        case .retry(let at, let reason, let inDoubt, let refundAttempt):
            sql = """
                UPDATE pending_orders
                SET status = 'pending', retry_at_ms = \(clock.shifted(statement.bind(at))), last_error = \(statement.bind(reason))::text,
                    last_err_code = \(statement.bind(errCode))::text,
                    in_doubt = greatest(in_doubt, \(statement.bind(inDoubt ? 1 : 0))::integer),
                    attempts = greatest(attempts - \(statement.bind(refundAttempt ? 1 : 0))::bigint, 0),
                    lease_owner = NULL, lease_token = NULL, lease_expires_ms = NULL
                WHERE id = \(id)::bigint AND lease_token = \(token)::text AND status = 'closing'
                RETURNING id
                """
        case .contradiction(let text):
            let note = statement.bind(text)
            sql = """
                UPDATE pending_orders
                SET status = 'failed', conflict = \(note)::text, last_error = \(note)::text,
                    last_err_code = \(statement.bind(errCode))::text, finished_ms = \(clock.now), in_doubt = 0,
                    lease_owner = NULL, lease_token = NULL, lease_expires_ms = NULL
                WHERE id = \(id)::bigint AND lease_token = \(token)::text AND status = 'closing'
                RETURNING id
                """
        }
        if try await connection.query(statement.query(sql), logger: logger).collect().count == 1 { return .applied }
        // Lost the compare-and-set: the merchant marked it paid, or another daemon's rescue took it.
        let row = try await connection.query("SELECT status, outcome FROM pending_orders WHERE id = \(order.id)", logger: logger)
            .collect().first.map { try $0.decode((String, String?).self) }
        let lost = write.lostCompareAndSet(current: row.flatMap { OrderStatus(rawValue: $0.0) }, outcome: row?.1)
        if let note = lost.conflict {
            try await connection.query("UPDATE pending_orders SET conflict = \(note) WHERE id = \(order.id)", logger: logger)
        }
        return lost.result
    }

    func insert(_ attempt: AttemptRecord, order: ClaimedOrder, on connection: PostgresConnection) async throws {
        let response = attempt.response
        try await connection.query("""
            INSERT INTO close_attempts (order_id, mch_id, out_trade_no, attempt, operation, started_ms, finished_ms,
                endpoint, http_status, return_code, return_msg, result_code, err_code, err_code_des, outcome, error, verified)
            VALUES (\(order.id), \(order.mchID), \(order.outTradeNo), \(attempt.attempt), \(attempt.call.rawValue),
                    \(attempt.startedAt), \(attempt.finishedAt), \(attempt.endpoint)::text, \(response.httpStatus)::bigint,
                    \(response.returnCode)::text, \(response.returnMsg)::text, \(response.resultCode)::text,
                    \(response.errCode)::text, \(response.errCodeDes)::text, \(attempt.outcome.rawValue), \(attempt.error)::text,
                    \(response.verified ? 1 : 0))
            ON CONFLICT ON CONSTRAINT close_attempts_one_row_per_call DO NOTHING
            """, logger: logger)
    }
}
