import Foundation
import Testing

/// `monitoring/` (issue 12): every metric the Grafana dashboard and the Prometheus alert rules
/// name is exported by a running daemon, so neither can silently watch a series that does not exist.
/// (CI checks the rules' syntax with `promtool check rules`.)
@Suite(.serialized) struct MonitoringTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// `closeorderd_…` names in a file, histogram suffixes folded into their family.
    static func namedMetrics(_ file: String) throws -> Set<String> {
        let text = try String(contentsOf: root.appendingPathComponent("monitoring/\(file)"), encoding: .utf8)
        let regex = try NSRegularExpression(pattern: "closeorderd_[a-z_]+")
        let names = regex.matches(in: text, range: NSRange(text.startIndex..., in: text)).map {
            String(text[Range($0.range, in: text)!])
        }
        return Set(
            names.map { name in
                for suffix in ["_bucket", "_sum", "_count"] where name.hasSuffix(suffix) {
                    return String(name.dropLast(suffix.count))
                }
                return name
            })
    }

    @Test func everyMetricTheDashboardAndRulesNameIsExported() async throws {
        let wanted = try Self.namedMetrics("closeorderd.dashboard.json").union(Self.namedMetrics("closeorderd.rules.yml"))
        #expect(wanted.count >= 8, "the monitoring files name too few metrics: \(wanted)")
        var settings = EndToEndWorld.Settings()
        let metricsPort = try ReservedPort()
        settings.metricsPort = metricsPort.port
        let world = try await EndToEndWorld.start(settings)
        let (daemon, _) = try await world.startDaemon()
        // Series are created at start; the heartbeat runs at once, so its gauges are there too.
        var exported: Set<String> = []
        let deadline = ContinuousClock.now + .seconds(30)  // only catches a hang: the series exist from the start
        while ContinuousClock.now < deadline {
            let text =
                (try? await EndToEndWorld.run(
                    "/usr/bin/curl", ["-sf", "--max-time", "10", "http://127.0.0.1:\(metricsPort.port)/metrics"])) ?? ""
            exported = Set(
                text.split(separator: "\n").filter { $0.hasPrefix("# TYPE ") }.map { String($0.split(separator: " ")[2]) })
            if wanted.isSubset(of: exported) { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        let missing = wanted.subtracting(exported).sorted()
        #expect(missing.isEmpty, "named in monitoring/ but not exported: \(missing)")
        daemon.signal(SIGTERM)
        #expect(await daemon.exitStatus() == 0)
        try await world.shutdown()
        withExtendedLifetime(metricsPort) {}
    }
}
