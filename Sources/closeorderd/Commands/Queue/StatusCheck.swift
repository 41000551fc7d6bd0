import OrderClosing

/// `status --check`: one line and an exit code for a monitoring system (Nagios/Icinga plugin
/// convention), from the same report `status` prints.
///
/// | condition                                             | level    |
/// |-------------------------------------------------------|----------|
/// | no daemon, or every daemon stale (3 beats missed)     | critical |
/// | oldest overdue order ≥ `overdueCriticalSeconds`       | critical |
/// | oldest overdue order ≥ `overdueWarningSeconds`        | warning  |
/// | a merchant circuit open, or a merchant paused         | warning  |
/// | orders ended `failed` in the last 24 h                | warning  |
/// | otherwise (overdue orders below the warning: said so) | ok       |
/// | the database unreachable or missing                   | critical |
/// | the check's own failure: bad config, permission       | unknown  |
struct StatusCheck {
    enum Level: Int32, Comparable {
        case ok = 0, warning = 1, critical = 2, unknown = 3
        static func < (lhs: Level, rhs: Level) -> Bool { lhs.rawValue < rhs.rawValue }
        var word: String { ["OK", "WARNING", "CRITICAL", "UNKNOWN"][Int(rawValue)] }
    }

    /// The verdict when the report could not be read: UNKNOWN for the check's own failures,
    /// CRITICAL for a database that is down or missing (nothing is being closed).
    static func verdict(failure error: any Error) -> (level: Level, line: String) {
        switch error as? OperatorDatabaseError {
        case .invalidConfig, .permissionDenied:
            return (.unknown, "closeorderd UNKNOWN: cannot check: \(error)")
        case .unreachable, nil:
            return (.critical, "closeorderd CRITICAL: the database is unreachable: \(error)")
        }
    }

    let overdueWarningSeconds: Int64
    let overdueCriticalSeconds: Int64

    func verdict(_ report: StatusReport) -> (level: Level, line: String) {
        var findings: [(Level, String)] = []
        let live = report.daemons.filter { !$0.isStale(now: report.now) }
        if live.isEmpty {
            findings.append(
                (
                    .critical,
                    report.daemons.isEmpty
                        ? "no daemon is running" : "every daemon is stale (\(report.daemons.count) missed three heartbeats)"
                ))
        }
        if let oldest = report.oldestOverdue {
            let seconds = (report.now - oldest.dueMs) / 1000
            let level: Level = seconds >= overdueCriticalSeconds ? .critical : seconds >= overdueWarningSeconds ? .warning : .ok
            if level > .ok {
                findings.append(
                    (level, "\(report.overdue) overdue, the oldest \(shown(oldest.outTradeNo)) \(seconds) s past due"))
            }
        }
        let open = report.circuits.filter { $0.value.circuit.state == .open || $0.value.circuit.state == .paused }
        if !open.isEmpty {
            findings.append((.warning, "merchant circuit open: " + open.keys.sorted().map(shown).joined(separator: ", ")))
        }
        if !report.pauses.isEmpty {
            findings.append((.warning, "merchant paused: " + report.pauses.keys.sorted().map(shown).joined(separator: ", ")))
        }
        if report.failedLastDay > 0 { findings.append((.warning, "\(report.failedLastDay) order(s) failed in the last 24 h")) }
        let level = findings.map(\.0).max() ?? .ok
        let facts = findings.filter { $0.0 > .ok }.map(\.1)
        var summary = facts.joined(separator: "; ")
        if facts.isEmpty {
            // Why overdue orders are still OK: an outage's first minutes, below the warning.
            let why =
                report.oldestOverdue.map {
                    " (the oldest \((report.now - $0.dueMs) / 1000) s past due; warning at \(overdueWarningSeconds) s)"
                } ?? ""
            summary = "\(report.overdue) overdue\(why), \(live.count) daemon(s) running"
        }
        return (level, "closeorderd \(level.word): \(summary)")
    }
}
