import BenchSupport
import Foundation
import PostgresNIO
#if canImport(Glibc)
import Glibc
#endif

/// Issue 15's P3 on PostgreSQL: one daemon with many orders scheduled an hour ahead and none due.
/// Per slice, the daemon's CPU and the whole cluster's (the daemon's LISTEN connection, its poll,
/// its heartbeat; the server's own background work) per second of wall time.
struct PostgresIdleRun {
    var daemonMsPerSecond: [Double] = []
    var postgresMsPerSecond: [Double] = []
    var daemonAverage = 0.0, postgresAverage = 0.0
    var hwmKB = 0, rssKB = 0
    var calls = 0
    var insertSeconds = 0.0
    var problems: [String] = []
}

func runPostgresIdle(_ env: inout Env, _ cluster: PostgresBenchCluster, scheduled: Int, settleSeconds: Double,
                     slices: Int, sliceSeconds: Double) async throws -> PostgresIdleRun {
    let world = try await BenchWorld(directory: env.nextDirectory("p3-idle"))
    let database = "bench_\(env.runCounter)"
    try await cluster.createDatabase(database)
    let config = try world.writePostgresConfig(url: cluster.url(database), name: "d0", metricsPort: nil)
    let (status, output) = try BenchDaemon.run(binary: env.binary, ["migrate", "--config", config])
    guard status == 0 else { throw BenchError("migrate failed: \(output)") }
    var run = PostgresIdleRun()
    let connection = try await cluster.connect(database)
    let started = monotonic()
    try await insertPostgresOrders(connection, prefix: "IDLE-", count: scheduled, createdAt: Int64(unixNow()), timeout: 3600)
    try? await connection.close()
    // The table as it stands once autovacuum and a checkpoint have been past a bulk load: otherwise
    // the window would measure the server writing out the load, not the daemon's idle cost.
    try cluster.psql("VACUUM ANALYZE pending_orders", database: database)
    try cluster.psql("CHECKPOINT", database: database)
    run.insertSeconds = monotonic() - started
    log(String(format: "  pg p3: %d scheduled orders inserted, vacuumed, checkpointed in %.1f s", scheduled, run.insertSeconds))

    let daemon = try BenchDaemon(binary: env.binary, arguments: ["run", "--config", config], logPath: world.directory + "/daemon.log", tag: "closeorderd-pg-bench")
    try daemon.start()
    usleep(UInt32(settleSeconds * 1e6))   // start-up is not idle cost: a measurement window, not a synchronisation
    guard daemon.process.isRunning else { throw BenchError("pg p3: the daemon exited; log: \(daemon.logTail)") }
    var (daemonPrevious, postgresPrevious) = (daemon.cpuSeconds, cluster.cpuSeconds)
    let (daemonStart, postgresStart) = (daemonPrevious, postgresPrevious)
    let windowStart = monotonic()
    var sliceStart = windowStart
    for _ in 0..<slices {
        usleep(UInt32(sliceSeconds * 1e6))
        let (d, p, now) = (daemon.cpuSeconds, cluster.cpuSeconds, monotonic())
        run.daemonMsPerSecond.append((d - daemonPrevious) * 1000 / (now - sliceStart))
        run.postgresMsPerSecond.append((p - postgresPrevious) * 1000 / (now - sliceStart))
        (daemonPrevious, postgresPrevious, sliceStart) = (d, p, now)
    }
    let window = monotonic() - windowStart
    run.daemonAverage = (daemonPrevious - daemonStart) * 1000 / window
    run.postgresAverage = (postgresPrevious - postgresStart) * 1000 / window
    run.hwmKB = Proc.status(pid: daemon.pid, "VmHWM")
    run.rssKB = Proc.status(pid: daemon.pid, "VmRSS")
    run.calls = world.fake.calls.count
    if run.calls > 0 { run.problems.append("the fake received \(run.calls) calls although nothing was due") }
    let exit = daemon.stop()
    if exit != 0 { run.problems.append("the daemon exited with status \(exit): \(daemon.logTail)") }
    await cluster.dropDatabase(database)
    log(String(format: "  pg p3: daemon %.3f ms CPU/s (slices %@), PostgreSQL %.3f ms CPU/s (slices %@), HWM %d kB, RSS %d kB, %d calls",
               run.daemonAverage, run.daemonMsPerSecond.map { String(format: "%.2f", $0) }.joined(separator: " "),
               run.postgresAverage, run.postgresMsPerSecond.map { String(format: "%.2f", $0) }.joined(separator: " "),
               run.hwmKB, run.rssKB, run.calls))
    await world.shutdown()
    return run
}

/// The reference for the merchant's INSERT latency: the same inserter on a migrated database of
/// the same server with no daemon running.
func postgresInsertAlone(_ env: inout Env, _ cluster: PostgresBenchCluster, seconds: Double) async throws -> InserterResult {
    let world = try await BenchWorld(directory: env.nextDirectory("insert-alone"))
    let database = "bench_\(env.runCounter)"
    try await cluster.createDatabase(database)
    let config = try world.writePostgresConfig(url: cluster.url(database), name: "d0", metricsPort: nil)
    let (status, output) = try BenchDaemon.run(binary: env.binary, ["migrate", "--config", config])
    guard status == 0 else { throw BenchError("migrate failed: \(output)") }
    let inserter = try Inserter(url: PostgresInserterTarget(port: cluster.port, database: database), rate: 200, directory: world.directory)
    try await Task.sleep(for: .seconds(seconds))   // a measurement window, not a synchronisation
    let result = try await Task.detached { try inserter.stop() }.value
    await cluster.dropDatabase(database)
    await world.shutdown()
    return result
}
