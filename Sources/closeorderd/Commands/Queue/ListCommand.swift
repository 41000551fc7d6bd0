import ArgumentParser
import Foundation
import OrderClosing

/// `list`: the orders a filter selects, as a table or JSON.
struct ListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List orders by status, merchant, overdue or age, newest first.",
        discussion: "Times are ISO-8601 (UTC). --json prints the same fields as a stable array for scripts."
    )

    @OptionGroup var options: ConfigOptions
    @Option(help: "Only orders in this status.") var status: OrderStatus?
    @Option(name: .customLong("mch-id"), help: "Only this merchant's orders.") var mchID: String?
    @Flag(help: "Only undecided orders past their own due time.") var overdue = false
    @Option(name: .customLong("older-than"), help: "Only orders placed at least this many seconds ago.") var olderThan: Int64?
    @Option(help: "At most this many orders.") var limit = 100
    @Flag(help: "Print JSON instead of a table.") var json = false

    func run() async throws {
        var filter = OrderFilter(mchID: mchID, overdueOnly: overdue, olderThanSeconds: olderThan, limit: limit)
        filter.status = status
        try await withOperatorQueue(options) { database in
            let now = SystemOrderClock().now()
            let lines = try await database.store.list(filter, now: now)
            if json {
                print(try encodeJSON(lines))
                return
            }
            let header = ["MCH_ID", "OUT_TRADE_NO", "STATUS", "ATTEMPTS", "DUE", "OVERDUE", "LAST_ERROR"]
            let rows = lines.map { line in
                [
                    line.mchID, line.outTradeNo, line.status + (line.inDoubt ? " (in doubt)" : ""), "\(line.attempts)",
                    line.dueAt,
                    line.overdueSeconds > 0
                        ? TimeText.relative(now - line.overdueSeconds * 1000, now: now).replacingOccurrences(of: " ago", with: "")
                        : "-",
                    String((line.lastError ?? "").prefix(60)),
                ].map(shown)
            }
            let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
            for row in [header] + rows {
                print(
                    row.indices.map {
                        $0 == row.count - 1 ? row[$0] : row[$0].padding(toLength: widths[$0], withPad: " ", startingAt: 0)
                    }
                    .joined(separator: "  "))
            }
            if lines.count == limit { print("(first \(limit); use --limit for more)") }
        }
    }
}

/// `--status`: the parser checks it (a usage error, exit 64, like every other) and the generated
/// shell completions offer its values.
extension OrderStatus: ExpressibleByArgument {}
