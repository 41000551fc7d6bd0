import GRDB
import OrderClosing

/// `requeue`, `retry-now` and `abandon` on SQLite (see `OrderAction` for what each does).
extension SQLiteOrderStore {
    public func apply(_ action: OrderAction, to selection: OrderSelection, now: Int64, dryRun: Bool) async throws
        -> OrderActionReport
    {
        try await pool.write { db in
            var skipped: [OrderActionReport.Skipped] = []
            var ids: [Int64] = []
            if selection.all {
                var sql = "SELECT id FROM pending_orders WHERE status = ?"
                var arguments: StatementArguments = [action.from.rawValue]
                if let mchID = selection.mchID {
                    sql += " AND mch_id = ?"
                    arguments += [mchID]
                }
                ids = try Int64.fetchAll(db, sql: sql, arguments: arguments)
            } else {
                for outTradeNo in selection.outTradeNos {
                    var sql = "SELECT id, mch_id, status FROM pending_orders WHERE out_trade_no = ?"
                    var arguments: StatementArguments = [outTradeNo]
                    if let mchID = selection.mchID {
                        sql += " AND mch_id = ?"
                        arguments += [mchID]
                    }
                    let rows = try Row.fetchAll(db, sql: sql + " ORDER BY mch_id", arguments: arguments)
                    if rows.isEmpty {
                        skipped.append(
                            .init(outTradeNo: outTradeNo, mchID: nil, reason: OrderAction.noSuchOrder(mchID: selection.mchID)))
                    }
                    for row in rows {
                        if let why = action.refusal(status: row["status"]) {
                            skipped.append(.init(outTradeNo: outTradeNo, mchID: row["mch_id"], reason: why))
                        } else {
                            ids.append(row["id"])
                        }
                    }
                }
            }
            guard !dryRun, !ids.isEmpty else { return OrderActionReport(moved: ids.count, skipped: skipped) }
            // An abandoned order enters the outcome feed: its finished_ms is the transaction's stamp.
            let (assignment, arguments) = Self.assignment(action, now: try Self.feedStamp(for: action, db, now: now))
            var moved = 0
            for chunk in stride(from: 0, to: ids.count, by: 500).map({ Array(ids[$0..<min($0 + 500, ids.count)]) }) {
                var chunkArguments = arguments
                chunkArguments += [action.from.rawValue]
                chunkArguments += StatementArguments(chunk)
                try db.execute(
                    sql: """
                        UPDATE pending_orders SET \(assignment)
                        WHERE status = ? AND id IN (\(Array(repeating: "?", count: chunk.count).joined(separator: ", ")))
                        """, arguments: chunkArguments)
                moved += db.changesCount
            }
            return OrderActionReport(moved: moved, skipped: skipped)
        }
    }

    /// The UPDATE's SET clause and its arguments (`last_error` as `OrderAction.lastError(was:)` says).
    static func assignment(_ action: OrderAction, now: Int64) -> (String, StatementArguments) {
        switch action {
        case .requeue:
            (
                """
                status = 'pending', attempts = 0, retry_at_ms = ?, first_attempt_ms = NULL, finished_ms = NULL,
                last_error = 'requeued by an operator; was: ' || coalesce(last_error, 'no error')
                """, [now]
            )
        case .retryNow:
            ("retry_at_ms = ?, last_error = 'retried now by an operator; was: ' || coalesce(last_error, 'no error')", [now])
        case .abandon(let reason):
            ("status = 'failed', finished_ms = ?, in_doubt = 0, last_error = 'abandoned by an operator: ' || ?", [now, reason])
        }
    }
}
