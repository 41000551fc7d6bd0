import ArgumentParser
import Logging
import OrderClosing

/// `requeue`, `retry-now` and `abandon`: one action over the selected orders, with a reason for
/// each named one skipped; exits 1 when orders were named and none moved.
struct OrderActionRunner {
    let options: ConfigOptions

    func run(_ action: OrderAction, _ selection: OrderSelection, dryRun: Bool) async throws {
        try await withOperatorQueue(options, write: !dryRun) { database in
            let report = try await database.store.apply(action, to: selection, now: SystemOrderClock().now(), dryRun: dryRun)
            let tense = dryRun ? "would be" : Self.were(action)
            print(
                ["\(action.name):", Self.counted(action, report.moved), tense, Self.verb(action)].filter { !$0.isEmpty }.joined(
                    separator: " "))
            if !dryRun, report.moved > 0 {
                var what = selection.all ? Self.everyOrder(action) : selection.outTradeNos.joined(separator: ", ")
                if case .abandon(let reason) = action { what += " (reason: \(reason))" }
                OperatorLog.notice(
                    "\(action.name): \(Self.counted(action, report.moved)) \(Self.verb(action)): \(what)",
                    ["action": "\(action.name)", "count": .stringConvertible(report.moved)])
            }
            for skipped in report.skipped {
                let order = shown(skipped.outTradeNo) + (skipped.mchID.map { " (mch_id \(shown($0)))" } ?? "")
                print("\(action.name): \(order): skipped, \(skipped.reason)")
            }
            if report.moved == 0, !selection.all { throw ExitCode(1) }
        }
    }

    /// `requeue` counts "failed order(s)", the others "order(s)"; its past tense has no "were".
    static func counted(_ action: OrderAction, _ count: Int) -> String {
        action == .requeue ? "\(count) failed order(s)" : "\(count) order(s)"
    }

    static func were(_ action: OrderAction) -> String {
        action == .requeue ? "" : "were"
    }

    static func everyOrder(_ action: OrderAction) -> String {
        action == .requeue ? "all failed" : "every matching order"
    }

    static func verb(_ action: OrderAction) -> String {
        switch action {
        case .requeue: "moved back to pending"
        case .retryNow: "made due now"
        case .abandon: "abandoned (failed, never sent again)"
        }
    }
}
