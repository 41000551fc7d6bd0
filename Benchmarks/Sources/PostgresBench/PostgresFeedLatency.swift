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
        let (status, output) = try BenchDaemon.run(env.binary, ["migrate", "--config", configs[0]])
        guard status == 0 else { throw BenchError("migrate failed: \(output)") }
        let connection = try await cluster.connect(database)
        try await insertPostgresOrders(connection, prefix: "F\(env.runCounter)-", count: sizes.p1Orders, createdAt: Int64(unixNow()) - 400, timeout: 0)
        try await connection.runSQL("ANALYZE pending_orders")
        try? await connection.close()
        let watcher = try PostgresFeedWatcher(binary: env.binary, arguments: ["watch", "--config", configs[0], "--from", "start"],
                                              logPath: world.directory + "/watch.log")
        var daemons: [BenchDaemon] = []
        for (index, config) in configs.enumerated() {
            let daemon = try BenchDaemon(binary: env.binary, arguments: ["run", "--config", config], logPath: world.directory + "/daemon-\(index).log")
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

/// `closeorderd watch` as a child process; records, per line, the arrival time minus `finished_ms`.
final class PostgresFeedWatcher: @unchecked Sendable {
    let process = Process()
    let logPath: String
    private let lock = NSLock()
    private var buffer = Data()
    private var latencies: [Double] = []

    init(binary: String, arguments: [String], logPath: String) throws {
        self.logPath = logPath
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("CLOSEORDERD_") }
        FileManager.default.createFile(atPath: logPath, contents: nil)
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        let pipe = Pipe()
        process.standardOutput = pipe
        pipe.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            let arrived = unixNow() * 1000
            guard let self, !data.isEmpty else { return }
            lock.withLock {
                buffer.append(data)
                while let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = buffer[buffer.startIndex..<newline]
                    buffer.removeSubrange(buffer.startIndex...newline)
                    if let object = try? JSONSerialization.jsonObject(with: line) as? [String: Any],
                       let finished = (object["finished_ms"] as? NSNumber)?.doubleValue {
                        latencies.append(arrived - finished)
                    }
                }
            }
        }
        try process.run()
    }

    var count: Int { lock.withLock { latencies.count } }

    func stop() -> [Double] {
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        return lock.withLock { latencies }
    }

    var logTail: String { String(((try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "").suffix(800)) }
}
