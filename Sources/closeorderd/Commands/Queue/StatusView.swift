import Foundation
import OrderClosing

/// `status`'s output from a `StatusReport`: times in ISO-8601 UTC and ages in seconds, as
/// `status --json` prints it (its fields are stable for scripts: `status --help`), and the lines
/// people read.
struct StatusView: Encodable {
    struct Overdue: Encodable {
        let outTradeNo: String
        let mchID: String
        let overdueSeconds: Double
        let dueAt: String
    }

    struct Circuit: Encodable {
        /// `open`, or `paused` (its key cannot be used).
        let state: String
        /// When an open circuit is probed again.
        let until: String?
        let reason: String?
        /// When it was published.
        let since: String
        /// The daemon that published it.
        let owner: String?

        init(_ circuit: StatusReport.Circuit) {
            state = circuit.circuit.state.rawValue
            until = circuit.circuit.untilMs.map(TimeText.iso8601)
            reason = circuit.circuit.reason
            since = TimeText.iso8601(circuit.publishedMs)
            owner = circuit.circuit.owner
        }

        /// One line for people.
        var text: String {
            [state, until.map { "until \($0)" }, reason].compactMap { $0 }.joined(separator: ", ")
        }
    }

    struct Daemon: Encodable {
        let owner: String
        let host: String
        let pid: Int32
        let version: String
        let startedAt: String
        let lastSeenAt: String
        let lastSeenSecondsAgo: Int64
        /// Missed three heartbeats: stopped without a clean exit, hung, or cut off from the database.
        let stale: Bool

        init(_ record: DaemonRecord, now: Int64) {
            owner = record.owner
            host = record.host
            pid = record.pid
            version = record.version
            startedAt = TimeText.iso8601(record.startedMs)
            lastSeenAt = TimeText.iso8601(record.lastSeenMs)
            lastSeenSecondsAgo = max(0, (now - record.lastSeenMs) / 1000)
            stale = record.isStale(now: now)
        }
    }

    let counts: [String: Int]
    let overdue: Int
    let oldestOverdue: Overdue?
    let inDoubt: Int
    let failedLastDay: Int
    let circuits: [String: Circuit]
    let pauses: [String: String]
    let daemons: [Daemon]
    /// The other facts the daemons published (heartbeat, endpoint).
    let daemon: [String: String]

    init(_ report: StatusReport) {
        counts = Dictionary(uniqueKeysWithValues: report.counts.map { ($0.key.rawValue, $0.value) })
        overdue = report.overdue
        oldestOverdue = report.oldestOverdue.map {
            Overdue(
                outTradeNo: $0.outTradeNo, mchID: $0.mchID, overdueSeconds: Double(report.now - $0.dueMs) / 1000,
                dueAt: TimeText.iso8601($0.dueMs))
        }
        inDoubt = report.inDoubt
        failedLastDay = report.failedLastDay
        circuits = report.circuits.mapValues(Circuit.init)
        pauses = report.pauses
        daemons = report.daemons.map { Daemon($0, now: report.now) }
        daemon = report.facts
    }

    /// For people, ages as "3 min ago" at `now`.
    func lines(now: Int64) -> [String] {
        var lines: [String] = []
        for status in OrderStatus.allCases {
            lines.append("\(status.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0)) \(counts[status.rawValue] ?? 0)")
        }
        lines.append("overdue: \(overdue) (undecided orders past their own due time)")
        if let overdue = oldestOverdue {
            lines.append(
                "oldest overdue: \(shown(overdue.outTradeNo)) (mch_id \(shown(overdue.mchID))), due \(overdue.dueAt), "
                    + "\(TimeText.relative(now - Int64(overdue.overdueSeconds * 1000), now: now))")
        }
        lines.append("in doubt: \(inDoubt)")
        lines.append("failed in the last 24 h: \(failedLastDay)")
        if circuits.isEmpty { lines.append("merchant circuits: all closed") }
        for (mchID, reason) in pauses.sorted(by: { $0.key < $1.key }) {
            lines.append("merchant \(shown(mchID)) paused by an operator: \(shown(reason))")
        }
        for (mchID, circuit) in circuits.sorted(by: { $0.key < $1.key }) {
            lines.append("merchant \(shown(mchID)) circuit: \(shown(circuit.text))")
        }
        if daemons.isEmpty { lines.append("daemons: none running (no heartbeat row)") }
        for daemon in daemons {
            let age = TimeText.relative(now - daemon.lastSeenSecondsAgo * 1000, now: now)
            lines.append(
                "daemon \(shown(daemon.owner)) (\(shown(daemon.version)), pid \(daemon.pid)): started \(daemon.startedAt), "
                    + "last seen \(age)" + (daemon.stale ? " — STALE: missed three heartbeats" : ""))
        }
        if let heartbeat = daemon["heartbeat"] { lines.append("last heartbeat: \(shown(heartbeat))") }
        return lines
    }
}
