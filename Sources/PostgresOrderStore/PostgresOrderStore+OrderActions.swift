import OrderClosing
import PostgresNIO

/// `requeue`, `retry-now` and `abandon` on PostgreSQL (see `OrderAction`), in one transaction.
/// The rows are locked while they are judged (`FOR UPDATE`; a dry run only reads), so a daemon
/// claiming meanwhile skips them (its claim is `SKIP LOCKED`) and the report says what happened;
/// the UPDATE still checks the status, as SQLite's does. "Now" (a requeued order's due time,
/// an abandoned one's finish) is the store's clock, the one the daemons claim by.
extension PostgresOrderStore {
    public func apply(_ action: OrderAction, to selection: OrderSelection, now: Int64, dryRun: Bool) async throws
        -> OrderActionReport
    {
        let lock = dryRun ? "" : " FOR UPDATE"
        let update = Self.update(action, now: now, clock: clock)
        let logger = logger
        return try await transaction { connection in
            var skipped: [OrderActionReport.Skipped] = []
            var ids: [Int64] = []
            if selection.all {
                var statement = PostgresStatement()
                var sql = "SELECT id FROM pending_orders WHERE status = \(statement.bind(action.from.rawValue))::text"
                if let mchID = selection.mchID { sql += " AND mch_id = \(statement.bind(mchID))::text" }
                ids = try await connection.send(statement.query(sql + " ORDER BY id" + lock), logger: logger)
                    .map { try $0.decode(Int64.self) }
            } else {
                for outTradeNo in selection.outTradeNos {
                    var statement = PostgresStatement()
                    var sql =
                        "SELECT id, mch_id, status FROM pending_orders WHERE out_trade_no = \(statement.bind(outTradeNo))::text"
                    if let mchID = selection.mchID { sql += " AND mch_id = \(statement.bind(mchID))::text" }
                    let rows = try await connection.send(
                        statement.query(sql + " ORDER BY mch_id COLLATE \"C\"" + lock), logger: logger)
                    if rows.isEmpty {
                        skipped.append(
                            .init(outTradeNo: outTradeNo, mchID: nil, reason: OrderAction.noSuchOrder(mchID: selection.mchID)))
                    }
                    for row in rows {
                        let (id, mchID, status) = try row.decode((Int64, String, String).self)
                        if let why = action.refusal(status: status) {
                            skipped.append(.init(outTradeNo: outTradeNo, mchID: mchID, reason: why))
                        } else {
                            ids.append(id)
                        }
                    }
                }
            }
            guard !dryRun, !ids.isEmpty else { return OrderActionReport(moved: ids.count, skipped: skipped) }
            let moved = try await connection.send(update(ids), logger: logger).count
            return OrderActionReport(moved: moved, skipped: skipped)
        }
    }

    /// The UPDATE for `ids` (`last_error` as `OrderAction.lastError(was:)` says), moving only
    /// rows still in the action's `from` state.
    static func update(_ action: OrderAction, now: Int64, clock: PostgresStoreClock) -> @Sendable ([Int64]) -> PostgresQuery {
        { ids in
            var statement = PostgresStatement()
            let clock = ClockSQL(clock, callerNow: now, in: &statement)
            let assignment: String
            switch action {
            case .requeue:
                assignment = """
                    status = 'pending', attempts = 0, retry_at_ms = \(clock.now), first_attempt_ms = NULL, finished_ms = NULL,
                    last_error = 'requeued by an operator; was: ' || coalesce(last_error, 'no error')
                    """
            case .retryNow:
                assignment =
                    "retry_at_ms = \(clock.now), last_error = 'retried now by an operator; was: ' || coalesce(last_error, 'no error')"
            case .abandon(let reason):
                assignment =
                    "status = 'failed', finished_ms = \(clock.now), in_doubt = 0, last_error = 'abandoned by an operator: ' || \(statement.bind(reason))::text"
            }
            let (from, list) = (statement.bind(action.from.rawValue), statement.bind(ids))
            return statement.query(
                """
                UPDATE pending_orders SET \(assignment)
                WHERE status = \(from)::text AND id = ANY(\(list)::bigint[])
                RETURNING id
                """)
        }
    }
}
