import ArgumentParser
import Foundation
import OrderClosing

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show orders by status, the oldest overdue order, in-doubt orders and merchant circuits.",
        discussion: """
            Reads the database only; works whether or not the daemon is running. --json prints the same report as one \
            object whose fields are stable for scripts: counts, overdue, oldest_overdue {out_trade_no, mch_id, \
            overdue_seconds, due_at}, in_doubt, failed_last_day, circuits {key: {state, until, reason, since}}, \
            pauses {mch_id: reason}, daemons [{owner, host, pid, version, started_at, last_seen_at, \
            last_seen_seconds_ago, stale}]; times are ISO-8601 UTC. --check prints one line and exits \
            0 (ok), 1 (warning: overdue past --overdue-warning, a circuit open or merchant paused, orders failed \
            in the last 24 h), 2 (critical: overdue past --overdue-critical, no live daemon, or the database \
            unreachable) or 3 (unknown: the check itself failed — an invalid config, permission denied).
            """
    )

    @OptionGroup var options: ConfigOptions
    @Flag(help: "Print JSON instead of text.") var json = false
    @Flag(help: "For monitoring: one line, exit 0 ok / 1 warning / 2 critical / 3 unknown (see --help).") var check = false
    @Option(
        name: .customLong("overdue-warning"),
        help: "With --check: warn when the oldest overdue order is this many seconds past due.")
    var overdueWarning: Int64 = 300
    @Option(name: .customLong("overdue-critical"), help: "With --check: critical past this many seconds.") var overdueCritical:
        Int64 = 600

    func run() async throws {
        if check { try await runCheck() }
        try await withOperatorQueue(options) { database in
            let now = SystemOrderClock().now()
            let report = try await database.store.status(now: now)
            let view = StatusView(report)
            if json {
                print(try encodeJSON(view))
                return
            }
            for line in view.lines(now: now) { print(line) }
        }
    }
}

extension StatusCommand {
    /// `--check`: always one line and the monitoring exit code, also when the report cannot be read.
    func runCheck() async throws -> Never {
        let verdict: (level: StatusCheck.Level, line: String)
        do {
            let report = try await OperatorDatabase.withQueue(options) { database in
                try await database.store.status(now: SystemOrderClock().now())
            }
            verdict = StatusCheck(overdueWarningSeconds: overdueWarning, overdueCriticalSeconds: overdueCritical).verdict(report)
        } catch {
            verdict = StatusCheck.verdict(failure: error)
        }
        print(shown(verdict.line))
        throw ExitCode(verdict.level.rawValue)
    }
}
