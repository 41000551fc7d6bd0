import ArgumentParser
import Foundation
import OrderClosing
import SQLiteOrderStore

/// `--status`: the parser checks it (a usage error, exit 64, like every other) and the generated
/// shell completions offer its values.
extension OrderStatus: ExpressibleByArgument {}

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
        let database = try await openOrExit(options)
        defer { database.close() }
        let now = SystemOrderClock().now()
        let lines = try await database.store.list(filter, now: now)
        if json {
            print(try encodeJSON(lines))
            return
        }
        let header = ["MCH_ID", "OUT_TRADE_NO", "STATUS", "ATTEMPTS", "DUE", "OVERDUE", "LAST_ERROR"]
        let rows = lines.map { line in
            [line.mchID, line.outTradeNo, line.status + (line.inDoubt ? " (in doubt)" : ""), "\(line.attempts)", line.dueAt,
             line.overdueSeconds > 0 ? TimeText.relative(now - line.overdueSeconds * 1000, now: now).replacingOccurrences(of: " ago", with: "") : "-",
             String((line.lastError ?? "").prefix(60))].map(shown)
        }
        let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
        for row in [header] + rows {
            print(row.indices.map { $0 == row.count - 1 ? row[$0] : row[$0].padding(toLength: widths[$0], withPad: " ", startingAt: 0) }
                .joined(separator: "  "))
        }
        if lines.count == limit { print("(first \(limit); use --limit for more)") }
    }
}

/// `retry-now` and `abandon`: one action over named orders, with a reason for each one skipped.
struct OrderActionRunner {
    let options: ConfigOptions

    func run(_ action: OrderAction, _ selection: OrderSelection, dryRun: Bool) async throws {
        let database = try await openOrExit(options, readonly: dryRun)
        defer { database.close() }
        let report = try await database.store.apply(action, to: selection, now: SystemOrderClock().now(), dryRun: dryRun)
        print("\(action.name): \(report.moved) order(s) \(dryRun ? "would be" : "were") \(Self.verb(action))")
        if !dryRun, report.moved > 0 {
            var what = selection.all ? "every matching order" : selection.outTradeNos.joined(separator: ", ")
            if case .abandon(let reason) = action { what += " (reason: \(reason))" }
            OperatorLog.notice("\(action.name): \(report.moved) order(s) \(Self.verb(action)): \(what)",
                               ["action": "\(action.name)", "count": .stringConvertible(report.moved)])
        }
        for skipped in report.skipped {
            let order = shown(skipped.outTradeNo) + (skipped.mchID.map { " (mch_id \(shown($0)))" } ?? "")
            print("\(action.name): \(order): skipped, \(skipped.reason)")
        }
        if report.moved == 0, !selection.all { throw ExitCode(1) }
    }

    static func verb(_ action: OrderAction) -> String {
        switch action {
        case .requeue: "moved back to pending"
        case .retryNow: "made due now"
        case .abandon: "abandoned (failed, never sent again)"
        }
    }
}

struct RetryNowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retry-now",
        abstract: "Make pending orders due now, skipping the rest of their backoff.",
        discussion: "Only pending orders are touched; each named order that is not is listed with the reason. Exits 1 if none moved."
    )

    @OptionGroup var options: ConfigOptions
    @Argument(help: "The out_trade_no of each pending order.") var outTradeNos: [String] = []
    @Option(name: .customLong("mch-id"), help: "Only this merchant's orders.") var mchID: String?
    @Flag(name: .customLong("dry-run"), help: "Say what would change, change nothing.") var dryRun = false

    func validate() throws {
        if outTradeNos.isEmpty { throw ValidationError("give one or more out_trade_nos") }
    }

    func run() async throws {
        try await OrderActionRunner(options: options).run(.retryNow, OrderSelection(outTradeNos: outTradeNos, mchID: mchID), dryRun: dryRun)
    }
}

struct AbandonCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "abandon",
        abstract: "Give up on pending orders: they end failed with your reason and are never sent again.",
        discussion: "For an order you know WeChat must not be asked about again. An order being closed is left alone (try again after)."
    )

    @OptionGroup var options: ConfigOptions
    @Argument(help: "The out_trade_no of each pending order.") var outTradeNos: [String] = []
    @Option(name: .customLong("mch-id"), help: "Only this merchant's orders.") var mchID: String?
    @Option(help: "Why; recorded in last_error.") var reason: String
    @Flag(name: .customLong("dry-run"), help: "Say what would change, change nothing.") var dryRun = false

    func validate() throws {
        if outTradeNos.isEmpty { throw ValidationError("give one or more out_trade_nos") }
        if reason.trimmingCharacters(in: .whitespaces).isEmpty { throw ValidationError("--reason must say why") }
    }

    func run() async throws {
        try await OrderActionRunner(options: options).run(.abandon(reason: reason), OrderSelection(outTradeNos: outTradeNos, mchID: mchID),
                                                          dryRun: dryRun)
    }
}

struct PauseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pause",
        abstract: "Pause a merchant: no order of it is sent until `resume`, by any daemon on this database.",
        discussion: "Persisted in the database and shown by `status`; running daemons pick it up within one poll interval."
    )

    @OptionGroup var options: ConfigOptions
    @Argument(help: "The merchant's mch_id.") var mchID: String
    @Option(help: "Why; shown in status and the daemons' logs.") var reason: String
    @Flag(name: .customLong("unconfigured"), help: "Pause a merchant this config does not serve (another daemon's).")
    var unconfigured = false

    func run() async throws {
        // A typo must not pause nothing and say it paused something.
        if options.database == nil, !unconfigured, let config = try? await DatabaseLocator(options: options).config(),
           !config.merchants.contains(where: { $0.mchID == mchID }) {
            printError("pause: merchant \(shown(mchID)) is not in the config (it serves \(config.merchants.map(\.mchID).sorted().joined(separator: ", "))); "
                       + "nothing would change here. Check the mch_id, or pass --unconfigured for another daemon's merchant")
            throw ExitCode(1)
        }
        let database = try await openOrExit(options, readonly: false)
        defer { database.close() }
        try await database.store.pause(mchID: mchID, reason: reason, now: SystemOrderClock().now())
        OperatorLog.notice("pause: merchant \(mchID) paused: \(reason)", ["mch_id": "\(mchID)", "action": "pause"])
        print("pause: merchant \(shown(mchID)) paused (\(shown(reason))); its orders wait until `closeorderd resume \(shown(mchID))`")
    }
}

struct ResumeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume",
        abstract: "Resume a merchant paused with `pause`, and clear its circuit as `status` shows it.",
        discussion: """
            Also clears the merchant's circuit rows (open after WeChat refused its key, or paused for an unusable key), \
            so `status --check` stops warning; a daemon that still finds the merchant failing opens it again. \
            Exits 1 if the merchant was neither paused nor had a circuit open.
            """
    )

    @OptionGroup var options: ConfigOptions
    @Argument(help: "The merchant's mch_id.") var mchID: String

    func run() async throws {
        let database = try await openOrExit(options, readonly: false)
        defer { database.close() }
        let now = SystemOrderClock().now()
        let wasPaused = try await database.store.resume(mchID: mchID)
        let circuits = try await database.store.status(now: now).circuits.keys.filter { $0 == mchID || $0.hasPrefix(mchID + "/") }
        let cleared = PublishedCircuit(state: .closed, reason: "cleared by an operator", owner: "operator").encoded
        for key in circuits.sorted() {
            try await database.store.publish("circuit:\(key)", cleared, now: now)
            print("resume: circuit \(shown(key)) cleared")
        }
        guard wasPaused || !circuits.isEmpty else {
            print("resume: merchant \(shown(mchID)) was not paused and has no open circuit")
            throw ExitCode(1)
        }
        OperatorLog.notice("resume: merchant \(mchID) resumed", ["mch_id": "\(mchID)", "action": "resume"])
        print("resume: merchant \(shown(mchID)) resumed; running daemons pick it up within one poll interval")
    }
}
