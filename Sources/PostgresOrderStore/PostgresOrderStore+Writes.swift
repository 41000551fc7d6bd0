import Foundation
import OrderClosing
import PostgresNIO

/// The daemon's writes: outcomes as compare-and-sets on the lease token, and the audit rows.
///
/// A batch's writes are one statement, not two round trips per order (issue 24): per kind of
/// change present one `UPDATE … FROM jsonb_to_recordset(…)` and for the audit rows one
/// `INSERT … SELECT`, each a data-modifying CTE of one `WITH`. The kinds touch distinct rows (a
/// batch naming one order twice goes write by write) and the audit rows depend on none of them, so
/// one statement does what the same statements in turn did. The rows travel as JSON arrays
/// (postgres-nio has no array of NULL-able values; JSON keeps NULLs and is one bind), written by
/// `PostgresJSONRows`. A write that lost its compare-and-set is looked at on its own, as before.
///
/// | statements per batch of n writes | before issue 24 | then           | now            |
/// |----------------------------------|-----------------|----------------|----------------|
/// | outcomes                         | n               | 1 per kind     | 1, with the audit rows |
/// | audit rows (one per call)        | ≥ n             | 1              | (in the one above)     |
/// | a lost compare-and-set           | 1–2             | 1–2            | 1–2 (unchanged)        |
extension PostgresOrderStore {
    func record(_ writes: [OrderWrite], now: Int64, on connection: PostgresConnection) async throws -> [WriteResult] {
        guard !writes.isEmpty else { return [] }
        // The same order twice in one batch: each write must see the one before it.
        guard Set(writes.map(\.order.id)).count == writes.count else {
            var results: [WriteResult] = []
            for write in writes { results += try await record([write], now: now, on: connection) }
            return results
        }
        let applied = try await apply(writes, now: now, on: connection)
        var results: [WriteResult] = []
        for write in writes {
            results.append(applied.contains(write.order.id) ? .applied : try await lostCompareAndSet(write, on: connection))
        }
        return results
    }

    enum WriteKind: String, CaseIterable {
        case finish = "finished", retry = "retried", contradiction = "contradicted"

        init(_ change: OrderChange) {
            switch change {
            case .finish: self = .finish
            case .retry: self = .retry
            case .contradiction: self = .contradiction
            }
        }
    }

    /// One outcome as a JSON object for `jsonb_to_recordset` (NULL keys read as NULL).
    struct OutcomeRow {
        let id: Int64, token: String
        var status: String?, outcome: String?, transaction_id: String?, reason: String?, err_code: String?
        var refund = 0, rescued_may_take = false, retry_at: Int64?, in_doubt = 0

        init(_ write: OrderWrite) {
            id = write.order.id
            token = write.order.leaseToken
            // Only a verified answer's err_code is WeChat's word; an unverified one stays in the audit row.
            err_code = write.attempts.last.flatMap { $0.response.verified ? $0.response.errCode : nil }
            switch write.change {
            case .finish(let status, let outcome, let transactionID, let reason):
                (self.status, self.outcome, transaction_id, self.reason) = (status.rawValue, outcome, transactionID, reason)
                refund = write.attempts.isEmpty ? 1 : 0  // decided without a call: no attempt was made
                // A rescued row takes WeChat's verdict (closed, paid), not a local decision.
                rescued_may_take = !write.attempts.isEmpty && status != .failed
            case .retry(let at, let reason, let inDoubt, let refundAttempt):
                (retry_at, self.reason, in_doubt, refund) = (at, reason, inDoubt ? 1 : 0, refundAttempt ? 1 : 0)
            case .contradiction(let note):
                reason = note
            }
        }

        func write(into rows: inout PostgresJSONRows) {
            rows.row()
            rows.field("id", id)
            rows.field("token", token)
            rows.field("status", status)
            rows.field("outcome", outcome)
            rows.field("transaction_id", transaction_id)
            rows.field("reason", reason)
            rows.field("err_code", err_code)
            rows.field("refund", refund)
            rows.field("rescued_may_take", rescued_may_take)
            rows.field("retry_at", retry_at)
            rows.field("in_doubt", in_doubt)
        }

        static func json(_ writes: [OrderWrite]) -> String {
            var rows = PostgresJSONRows()
            for write in writes { OutcomeRow(write).write(into: &rows) }
            return rows.json
        }
    }

    /// Every write's compare-and-set and every call's audit row, in one statement; returns the ids
    /// whose compare-and-set applied.
    func apply(_ writes: [OrderWrite], now: Int64, on connection: PostgresConnection) async throws -> Set<Int64> {
        var statement = PostgresStatement()
        let clock = ClockSQL(self.clock, callerNow: now, in: &statement)
        var ctes: [String] = []
        var applied: [String] = []
        for kind in WriteKind.allCases {
            let group = writes.filter { WriteKind($0.change) == kind }
            guard !group.isEmpty else { continue }
            ctes.append("\(kind.rawValue) AS (\(kind.sql(rows: statement.bind(OutcomeRow.json(group)), clock: clock)))")
            applied.append("SELECT id FROM \(kind.rawValue)")
        }
        if let attempts = AttemptRow.json(writes) {
            ctes.append("audited AS (\(AttemptRow.insertSQL(rows: statement.bind(attempts))))")
        }
        let sql = "WITH " + ctes.joined(separator: ",\n") + "\n" + applied.joined(separator: " UNION ALL ")
        return Set(try await connection.send(statement.query(sql), logger: logger).map { try $0.decode(Int64.self) })
    }

    /// Lost the compare-and-set: the merchant marked it paid, or another daemon's rescue took it.
    func lostCompareAndSet(_ write: OrderWrite, on connection: PostgresConnection) async throws -> WriteResult {
        let order = write.order
        let row = try await connection.send("SELECT status, outcome FROM pending_orders WHERE id = \(order.id)", logger: logger)
            .first.map { try $0.decode((String, String?).self) }
        let lost = write.lostCompareAndSet(current: row.flatMap { OrderStatus(rawValue: $0.0) }, outcome: row?.1)
        if let note = lost.conflict {
            _ = try await connection.send("UPDATE pending_orders SET conflict = \(note) WHERE id = \(order.id)", logger: logger)
        }
        return lost.result
    }

    /// One audit row per call, as a JSON object for `jsonb_to_recordset`.
    struct AttemptRow {
        let order_id: Int64, mch_id: String, out_trade_no: String, attempt: Int, operation: String
        let started_ms: Int64, finished_ms: Int64, endpoint: String?, http_status: Int?
        let return_code: String?, return_msg: String?, result_code: String?, err_code: String?, err_code_des: String?
        let outcome: String, error: String?, verified: Int

        init(_ attempt: AttemptRecord, order: ClaimedOrder) {
            let response = attempt.response
            (order_id, mch_id, out_trade_no) = (order.id, order.mchID, order.outTradeNo)
            (self.attempt, operation, started_ms, finished_ms) = (
                attempt.attempt, attempt.call.rawValue, attempt.startedAt, attempt.finishedAt
            )
            (endpoint, http_status) = (attempt.endpoint, response.httpStatus)
            (return_code, return_msg, result_code) = (response.returnCode, response.returnMsg, response.resultCode)
            (err_code, err_code_des) = (response.errCode, response.errCodeDes)
            (outcome, error, verified) = (attempt.outcome.rawValue, attempt.error, response.verified ? 1 : 0)
        }

        func write(into rows: inout PostgresJSONRows) {
            rows.row()
            rows.field("order_id", order_id)
            rows.field("mch_id", mch_id)
            rows.field("out_trade_no", out_trade_no)
            rows.field("attempt", attempt)
            rows.field("operation", operation)
            rows.field("started_ms", started_ms)
            rows.field("finished_ms", finished_ms)
            rows.field("endpoint", endpoint)
            rows.field("http_status", http_status)
            rows.field("return_code", return_code)
            rows.field("return_msg", return_msg)
            rows.field("result_code", result_code)
            rows.field("err_code", err_code)
            rows.field("err_code_des", err_code_des)
            rows.field("outcome", outcome)
            rows.field("error", error)
            rows.field("verified", verified)
        }

        /// Every call of the batch, in the batch's order (ids ascend as before); nil when no call was made.
        static func json(_ writes: [OrderWrite]) -> String? {
            guard writes.contains(where: { !$0.attempts.isEmpty }) else { return nil }
            var rows = PostgresJSONRows()
            for write in writes {
                for attempt in write.attempts { AttemptRow(attempt, order: write.order).write(into: &rows) }
            }
            return rows.json
        }

        /// The audit rows' `INSERT` from `rows` (a JSON array).
        static func insertSQL(rows: String) -> String {
            """
            INSERT INTO close_attempts (order_id, mch_id, out_trade_no, attempt, operation, started_ms, finished_ms,
                endpoint, http_status, return_code, return_msg, result_code, err_code, err_code_des, outcome, error, verified)
            SELECT order_id, mch_id, out_trade_no, attempt, operation, started_ms, finished_ms,
                endpoint, http_status, return_code, return_msg, result_code, err_code, err_code_des, outcome, error, verified
            FROM jsonb_to_recordset(\(rows)::jsonb) AS a(order_id bigint, mch_id text, out_trade_no text, attempt bigint,
                operation text, started_ms bigint, finished_ms bigint, endpoint text, http_status bigint, return_code text,
                return_msg text, result_code text, err_code text, err_code_des text, outcome text, error text, verified integer)
            ON CONFLICT ON CONSTRAINT close_attempts_one_row_per_call DO NOTHING
            """
        }
    }
}

extension PostgresOrderStore.WriteKind {
    /// This kind's compare-and-set over the rows in `rows` (a JSON array), returning the ids it applied to.
    func sql(rows: String, clock: ClockSQL) -> String {
        switch self {
        case .finish:
            return """
                UPDATE pending_orders AS p
                SET status = w.status, outcome = w.outcome, transaction_id = coalesce(w.transaction_id, p.transaction_id),
                    last_error = w.reason, last_err_code = w.err_code, finished_ms = \(clock.now), in_doubt = 0,
                    attempts = greatest(p.attempts - w.refund, 0),
                    lease_owner = NULL, lease_token = NULL, lease_expires_ms = NULL
                FROM jsonb_to_recordset(\(rows)::jsonb) AS w(id bigint, token text, status text, outcome text, transaction_id text,
                                                           reason text, err_code text, refund bigint, rescued_may_take boolean)
                WHERE p.id = w.id AND (p.lease_token = w.token AND p.status = 'closing'
                    OR p.status = 'pending' AND p.lease_token IS NULL AND p.in_doubt = 1 AND w.rescued_may_take)
                RETURNING p.id
                """
        case .retry:
            return """
                UPDATE pending_orders AS p
                SET status = 'pending', retry_at_ms = \(clock.shifted("w.retry_at")), last_error = w.reason, last_err_code = w.err_code,
                    in_doubt = greatest(p.in_doubt, w.in_doubt), attempts = greatest(p.attempts - w.refund, 0),
                    lease_owner = NULL, lease_token = NULL, lease_expires_ms = NULL
                FROM jsonb_to_recordset(\(rows)::jsonb) AS w(id bigint, token text, reason text, err_code text, retry_at bigint,
                                                           in_doubt integer, refund bigint)
                WHERE p.id = w.id AND p.lease_token = w.token AND p.status = 'closing'
                RETURNING p.id
                """
        case .contradiction:
            return """
                UPDATE pending_orders AS p
                SET status = 'failed', conflict = w.reason, last_error = w.reason, last_err_code = w.err_code,
                    finished_ms = \(clock.now), in_doubt = 0,
                    lease_owner = NULL, lease_token = NULL, lease_expires_ms = NULL
                FROM jsonb_to_recordset(\(rows)::jsonb) AS w(id bigint, token text, reason text, err_code text)
                WHERE p.id = w.id AND p.lease_token = w.token AND p.status = 'closing'
                RETURNING p.id
                """
        }
    }
}
