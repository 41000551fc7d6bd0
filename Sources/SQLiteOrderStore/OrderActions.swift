import GRDB
import OrderClosing

/// What an operator can do to orders by hand, as a queue tool lets one (River, Oban, Sidekiq):
/// each action moves orders from the states it applies to, and says for every named order it
/// leaves alone why. A dry run reports the same without writing.
///
/// | action      | applies to | the order becomes                                             |
/// |-------------|------------|---------------------------------------------------------------|
/// | `requeue`   | failed     | pending, attempts 0, due now (a fresh budget)                  |
/// | `retry-now` | pending    | pending, due now (skips the rest of its backoff)               |
/// | `abandon`   | pending    | failed, never sent again, with the operator's reason           |
///
/// An order being closed (`closing`) is never touched: its call is in flight; try again after it.
public enum OrderAction: Sendable, Hashable {
    case requeue
    case retryNow
    case abandon(reason: String)

    public var name: String {
        switch self {
        case .requeue: "requeue"
        case .retryNow: "retry-now"
        case .abandon: "abandon"
        }
    }

    /// The status the action applies to.
    var from: OrderStatus {
        switch self {
        case .requeue: .failed
        case .retryNow, .abandon: .pending
        }
    }

    /// The UPDATE's SET clause and its arguments.
    func assignment(now: Int64) -> (String, StatementArguments) {
        switch self {
        case .requeue:
            ("""
             status = 'pending', attempts = 0, retry_at_ms = ?, first_attempt_ms = NULL, finished_ms = NULL,
             last_error = 'requeued by an operator; was: ' || coalesce(last_error, 'no error')
             """, [now])
        case .retryNow:
            ("retry_at_ms = ?, last_error = 'retried now by an operator; was: ' || coalesce(last_error, 'no error')", [now])
        case .abandon(let reason):
            ("status = 'failed', finished_ms = ?, last_error = 'abandoned by an operator: ' || ?", [now, reason])
        }
    }
}

/// Which orders an action names: some out_trade_nos, or every order it applies to.
public struct OrderSelection: Sendable, Hashable {
    public var outTradeNos: [String]
    public var mchID: String?
    /// Every order in the action's `from` state (of `mchID`, if given).
    public var all: Bool

    public init(outTradeNos: [String], mchID: String? = nil, all: Bool = false) {
        self.outTradeNos = outTradeNos
        self.mchID = mchID
        self.all = all
    }
}

extension OperatorQueries {
    /// Applies `action` to the selected orders in one transaction (none when `dryRun`).
    public func apply(_ action: OrderAction, to selection: OrderSelection, now: Int64, dryRun: Bool = false) async throws -> RequeueReport {
        try await pool.write { db in
            var skipped: [RequeueReport.Skipped] = []
            var ids: [Int64] = []
            if selection.all {
                var sql = "SELECT id FROM pending_orders WHERE status = ?"
                var arguments: StatementArguments = [action.from.rawValue]
                if let mchID = selection.mchID { sql += " AND mch_id = ?"; arguments += [mchID] }
                ids = try Int64.fetchAll(db, sql: sql, arguments: arguments)
            } else {
                for outTradeNo in selection.outTradeNos {
                    var sql = "SELECT id, mch_id, status FROM pending_orders WHERE out_trade_no = ?"
                    var arguments: StatementArguments = [outTradeNo]
                    if let mchID = selection.mchID { sql += " AND mch_id = ?"; arguments += [mchID] }
                    let rows = try Row.fetchAll(db, sql: sql + " ORDER BY mch_id", arguments: arguments)
                    if rows.isEmpty {
                        skipped.append(.init(outTradeNo: outTradeNo, mchID: nil,
                                             reason: "no such order" + (selection.mchID.map { " for mch_id \($0)" } ?? "")))
                    }
                    for row in rows {
                        let status: String = row["status"]
                        if status == action.from.rawValue {
                            ids.append(row["id"])
                        } else {
                            let why = status == OrderStatus.closing.rawValue
                                ? "it is closing (a call is in flight); try again once it is decided"
                                : "it is \(status), not \(action.from.rawValue)"
                            skipped.append(.init(outTradeNo: outTradeNo, mchID: row["mch_id"], reason: why))
                        }
                    }
                }
            }
            guard !dryRun, !ids.isEmpty else { return RequeueReport(moved: ids.count, skipped: skipped) }
            let (assignment, arguments) = action.assignment(now: now)
            var moved = 0
            for chunk in stride(from: 0, to: ids.count, by: 500).map({ Array(ids[$0..<min($0 + 500, ids.count)]) }) {
                var chunkArguments = arguments
                chunkArguments += [action.from.rawValue]
                chunkArguments += StatementArguments(chunk)
                try db.execute(sql: """
                    UPDATE pending_orders SET \(assignment)
                    WHERE status = ? AND id IN (\(Array(repeating: "?", count: chunk.count).joined(separator: ", ")))
                    """, arguments: chunkArguments)
                moved += db.changesCount
            }
            return RequeueReport(moved: moved, skipped: skipped)
        }
    }
}
