import BenchSupport
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Issue 25's figure: how soon the merchant's app learns an outcome. P1's workload (due orders,
/// the fake answering at once, the daemon's defaults) with `closeorderd watch --from start`
/// reading the same WAL file as a second process; for each order, the time its line reached this
/// driver minus its `finished_ms`. The daemon stamps `finished_ms` just before its write
/// transaction, so the figure includes that transaction and its commit: an upper bound of
/// "commit → the app has the row".
func feedLatency(_ env: inout Env, sizes: Sizes, report: Report, problems: inout [String]) async throws {
    log("== FEED: \(sizes.p1Orders) due orders (P1) with closeorderd watch reading along, \(sizes.runs) run(s)")
    var p50s: [Double] = [], p99s: [Double] = [], maxes: [Double] = []
    for _ in 0..<sizes.runs {
        let world = try await World(directory: env.nextDirectory("feed"), databasePath: nil, latencyMs: 0)
        try world.writeConfig()
        let (status, output) = try Daemon.run(binary: env.binary, ["migrate", "--config", world.configPath])
        guard status == 0 else { throw BenchError("migrate failed: \(output)") }
        try World.insertOrders(path: world.databasePath, prefix: "F\(env.runCounter)-", count: sizes.p1Orders, createdAt: Int64(unixNow()) - 400)
        let watcher = try FeedWatcher(binary: env.binary, arguments: ["watch", "--config", world.configPath, "--from", "start"],
                                      logPath: world.directory + "/watch.log")
        let daemon = try Daemon(binary: env.binary, arguments: ["run", "--config", world.configPath], shim: nil,
                                counterPath: world.counterPath, logPath: world.directory + "/daemon.log")
        try daemon.start()
        let deadline = monotonic() + 120 + Double(sizes.p1Orders) / 50
        while watcher.count < sizes.p1Orders, monotonic() < deadline, daemon.process.isRunning { usleep(20_000) }
        _ = daemon.stop()
        let latencies = watcher.stop()
        await world.shutdown()
        if latencies.count != sizes.p1Orders {
            problems.append("FEED: watch printed \(latencies.count) of \(sizes.p1Orders) orders; \(watcher.logTail)")
            continue
        }
        let sorted = latencies.sorted()
        let p50 = sorted[sorted.count / 2], p99 = sorted[min(sorted.count - 1, sorted.count * 99 / 100)]
        log(String(format: "  feed: %d orders, commit → watch line p50 %.1f ms, p99 %.1f ms, max %.1f ms", sorted.count, p50, p99, sorted.last!))
        p50s.append(p50); p99s.append(p99); maxes.append(sorted.last!)
    }
    report.add("FEED", "outcome → app (closeorderd watch line), during P1: p50", Spread(p50s).format(1) + " ms", "–", nil)
    report.add("FEED", "… p99 (max: \(Spread(maxes).format(0)) ms)", Spread(p99s).format(1) + " ms", "–", nil)
}

/// `closeorderd watch` as a child process; records, per line, the arrival time minus `finished_ms`.
