import BenchSupport
import Foundation
import PostgresNIO
#if canImport(Glibc)
import Glibc
#endif

/// Issue 25's figure on PostgreSQL: P1's workload closed by two daemons on one database, with
/// `closeorderd watch --from start` (LISTEN closeorderd_outcomes, then the cursor query) as the
/// app; for each order, the time its line reached this driver minus its `finished_ms`. The stamp
/// is taken at COMMIT by the deferred trigger, on the server's clock (the same host's), so the
/// figure is "commit → the app has the row" (plus the daemon's clock read to its COMMIT).
func postgresFeedLatency(_ env: inout Env, _ cluster: PostgresBenchCluster, sizes: PostgresSizes, report: Report,
                         problems: inout [String]) async throws {
    let daemonCount = 2
    log("== PG FEED: \(sizes.p1Orders) due orders (P1), \(daemonCount) daemons, closeorderd watch reading along, \(sizes.runs) run(s)")
    var p50s: [Double] = [], p99s: [Double] = [], maxes: [Double] = []
    for _ in 0..<sizes.runs {
        let world = try await BenchWorld(directory: env.nextDirectory("pg-feed"))
        let database = "bench_\(env.runCounter)"
        try await cluster.createDatabase(database)
        let configs = try (0..<daemonCount).map { try world.writePostgresConfig(url: cluster.url(database), name: "d\($0)", metricsPort: nil) }
        let (status, output) = try BenchDaemon.run(binary: env.binary, ["migrate", "--config", configs[0]])
        guard status == 0 else { throw BenchError("migrate failed: \(output)") }
        let connection = try await cluster.connect(database)
        try await insertPostgresOrders(connection, prefix: "F\(env.runCounter)-", count: sizes.p1Orders, createdAt: Int64(unixNow()) - 400, timeout: 0)
        try await connection.runSQL("ANALYZE pending_orders")
        try? await connection.close()
        let watcher = try FeedWatcher(binary: env.binary, arguments: ["watch", "--config", configs[0], "--from", "start"],
                                              logPath: world.directory + "/watch.log")
        var daemons: [BenchDaemon] = []
        for (index, config) in configs.enumerated() {
            let daemon = try BenchDaemon(binary: env.binary, arguments: ["run", "--config", config], logPath: world.directory + "/daemon-\(index).log", tag: "closeorderd-pg-bench")
            try daemon.start()
            daemons.append(daemon)
        }
        let deadline = monotonic() + 120 + Double(sizes.p1Orders) / 50
        while watcher.count < sizes.p1Orders, monotonic() < deadline, daemons.allSatisfy(\.process.isRunning) { usleep(20_000) }
        for daemon in daemons { _ = daemon.stop() }
        let latencies = watcher.stop()
        await cluster.dropDatabase(database)
        await world.shutdown()
        if latencies.count != sizes.p1Orders {
            problems.append("PG FEED: watch printed \(latencies.count) of \(sizes.p1Orders) orders; \(watcher.logTail)")
            continue
        }
        let sorted = latencies.sorted()
        let p50 = sorted[sorted.count / 2], p99 = sorted[min(sorted.count - 1, sorted.count * 99 / 100)]
        log(String(format: "  pg feed: %d orders, commit → watch line p50 %.1f ms, p99 %.1f ms, max %.1f ms", sorted.count, p50, p99, sorted.last!))
        p50s.append(p50); p99s.append(p99); maxes.append(sorted.last!)
    }
    report.add("PG-FEED", "outcome → app (closeorderd watch line, LISTEN), P1 with \(daemonCount) daemons: p50", Spread(p50s).format(1) + " ms", "–", nil)
    report.add("PG-FEED", "… p99 (max: \(Spread(maxes).format(0)) ms)", Spread(p99s).format(1) + " ms", "–", nil)
}
