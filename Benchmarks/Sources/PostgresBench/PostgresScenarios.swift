import BenchSupport
import FakeWeChatPay
import Foundation
import PostgresNIO
#if canImport(Glibc)
import Glibc
#endif

/// One run of issue 15's P1 on PostgreSQL: `daemons` real `closeorderd run` processes on one
/// database of the bench cluster, over `orders` due orders (and `decoys` orders due in an hour,
/// which no daemon may send: the "0 early" check).
struct PostgresCloseSpec {
    var name: String
    var orders: Int
    var decoys: Int
    var daemons: Int
    /// The merchant's inserter (INSERTs per second) during the run; 0 for none.
    var inserterRate = 0
}

struct PostgresCloseRun {
    var closes = 0
    /// The fake's first close → the last `finished_ms` written.
    var seconds = 0.0
    var rate: Double { Double(closes) / seconds }
    /// Per daemon over the same window: CPU seconds, calls made (its metrics), VmHWM kB.
    var daemonCPU: [Double] = []
    var daemonCalls: [Int?] = []
    var daemonHWM: [Int] = []
    var postgresCPU = 0.0
    var fakeCPU = 0.0
    var inserter: InserterResult?
    var problems: [String] = []

    var daemonsUsPerClose: Double { daemonCPU.reduce(0, +) / Double(closes) * 1e6 }
    var postgresUsPerClose: Double { postgresCPU / Double(closes) * 1e6 }
    var fakeUsPerClose: Double { fakeCPU / Double(closes) * 1e6 }
    /// Daemons, PostgreSQL and the fake together, as cores busy (of the machine's 2).
    var coresBusy: Double { (daemonCPU.reduce(0, +) + postgresCPU + fakeCPU) / seconds }
    /// Each daemon's CPU per call it made itself (nil where its metrics could not be read).
    var usPerOwnClose: [Double?] {
        zip(daemonCPU, daemonCalls).map { cpu, calls in calls.flatMap { $0 > 0 ? cpu / Double($0) * 1e6 : nil } }
    }
}

/// Runs the daemons over a fresh database of `cluster` and checks the result like the SQLite runs:
/// every order closed, the fake closed each once, audit rows = the fake's calls, attempts =
/// orders (1 each), valid signatures, no call before an order's due second, no decoy sent, and
/// every daemon exits 0 on SIGTERM.
func runPostgresCloses(_ env: inout Env, _ cluster: PostgresBenchCluster, _ spec: PostgresCloseSpec) async throws -> PostgresCloseRun {
    let world = try await BenchWorld(directory: env.nextDirectory(spec.name))
    let database = "bench_\(env.runCounter)"
    try await cluster.createDatabase(database)
    let ports = try (0..<spec.daemons).map { _ in try PostgresBenchCluster.freePort() }
    let configs = try ports.enumerated().map { try world.writePostgresConfig(url: cluster.url(database), name: "d\($0.offset)", metricsPort: $0.element) }
    let (status, output) = try BenchDaemon.run(binary: env.binary, ["migrate", "--config", configs[0]])
    guard status == 0 else { throw BenchError("migrate failed: \(output)") }

    let connection = try await cluster.connect(database)
    let prefix = "R\(env.runCounter)-", decoyPrefix = "D\(env.runCounter)-"
    let now = Int64(unixNow()), base = now - 400
    try await insertPostgresOrders(connection, prefix: prefix, count: spec.orders, createdAt: base, timeout: 0)
    try await insertPostgresOrders(connection, prefix: decoyPrefix, count: spec.decoys, createdAt: now, timeout: 3600)
    try await connection.runSQL("ANALYZE pending_orders")

    let inserter = spec.inserterRate > 0
        ? try Inserter(url: PostgresInserterTarget(port: cluster.port, database: database), rate: spec.inserterRate, directory: world.directory) : nil
    var daemons: [BenchDaemon] = []
    for (index, config) in configs.enumerated() {
        let daemon = try BenchDaemon(binary: env.binary, arguments: ["run", "--config", config], logPath: world.directory + "/daemon-\(index).log", tag: "closeorderd-pg-bench")
        try daemon.start()
        daemons.append(daemon)
    }
    let logs = { daemons.map(\.logTail).joined(separator: "\n---\n") }
    func stopAll() { for daemon in daemons { _ = daemon.stop() } }
    var run = PostgresCloseRun()

    // The first close reaches the fake: the "before" readings.
    guard await waitForCalls(world.fake, 1, timeout: 120, poll: 0.002, alive: { daemons.allSatisfy(\.process.isRunning) }) else {
        stopAll(); _ = try? inserter?.stop()
        throw BenchError("\(spec.name): no call reached the fake; daemon logs: \(logs())")
    }
    let cpu0 = daemons.map(\.cpuSeconds), pg0 = cluster.cpuSeconds, fake0 = Proc.threadCPU(pid: getpid(), threadPrefix: "NIO-ELT")

    // Every order sent, then every outcome written (no due order pending or closing).
    let deadline = 120 + Double(spec.orders) / 50
    let allSent = await waitForCalls(world.fake, spec.orders, timeout: deadline, poll: 0.02, alive: { daemons.allSatisfy(\.process.isRunning) })
    var left = -1
    let doneBy = monotonic() + 60
    while allSent {
        let horizon = (Int64(unixNow()) + 60) * 1000
        left = Int(try await connection.integer("""
            SELECT (SELECT count(*) FROM pending_orders WHERE status = 'pending' AND next_attempt_ms <= \(horizon))
                 + (SELECT count(*) FROM pending_orders WHERE status = 'closing')
            """))
        if left == 0 || monotonic() > doneBy { break }
        usleep(20_000)
    }
    guard allSent, left == 0 else {
        stopAll(); _ = try? inserter?.stop()
        throw BenchError("\(spec.name): not every order was decided (\(world.fake.calls.count) calls of \(spec.orders), \(left) left); daemon logs: \(logs())")
    }
    run.daemonCPU = zip(daemons, cpu0).map { $0.cpuSeconds - $1 }
    run.postgresCPU = cluster.cpuSeconds - pg0
    run.fakeCPU = Proc.threadCPU(pid: getpid(), threadPrefix: "NIO-ELT") - fake0
    run.daemonHWM = daemons.map { Proc.status(pid: $0.pid, "VmHWM") }
    if let inserter { run.inserter = try await Task.detached { try inserter.stop() }.value }
    run.daemonCalls = ports.map { scrapeCalls(port: $0) }
    for (index, daemon) in daemons.enumerated() {
        let exit = daemon.stop()
        if exit != 0 { run.problems.append("daemon \(index) exited with status \(exit): \(daemon.logTail)") }
    }

    let p = "'\(prefix)%'", d = "'\(decoyPrefix)%'"
    let closed = try await connection.integer("SELECT count(*) FROM pending_orders WHERE out_trade_no LIKE \(p) AND status = 'closed'")
    let last = try await connection.integer("SELECT max(finished_ms) FROM pending_orders WHERE out_trade_no LIKE \(p)")
    let attempts = try await connection.integer("SELECT sum(attempts)::bigint FROM pending_orders WHERE out_trade_no LIKE \(p)")
    let maxAttempts = try await connection.integer("SELECT max(attempts) FROM pending_orders WHERE out_trade_no LIKE \(p)")
    let audit = try await connection.integer("SELECT count(*) FROM close_attempts WHERE out_trade_no LIKE \(p)")
    let decoysTouched = try await connection.integer("SELECT count(*) FROM pending_orders WHERE out_trade_no LIKE \(d) AND (status <> 'pending' OR attempts > 0)")
    try? await connection.close()
    await cluster.dropDatabase(database)

    let calls = world.fake.calls
    let closes = calls.filter { $0.path == "/pay/closeorder" && ($0.outTradeNo ?? "").hasPrefix(prefix) }
    let first = closes.map(\.receivedAt).min() ?? 0
    run.closes = Int(closed)
    run.seconds = Double(last) / 1000 - first
    if run.closes != spec.orders { run.problems.append("\(run.closes) of \(spec.orders) orders closed") }
    let acted = closes.filter(\.acted).count
    if acted != spec.orders || closes.count != spec.orders { run.problems.append("the fake saw \(closes.count) closes and acted on \(acted) for \(spec.orders) orders") }
    if audit != closes.count { run.problems.append("\(audit) audit rows for the fake's \(closes.count) closes") }
    if attempts != spec.orders || maxAttempts != 1 { run.problems.append("attempts: \(attempts) in all, at most \(maxAttempts), for \(spec.orders) orders") }
    if calls.contains(where: { !$0.signatureValid }) { run.problems.append("the fake saw a badly signed request") }
    let dueAt = Double(base + 300 + dueMarginSeconds)
    let early = closes.filter { $0.receivedAt < dueAt }.count + calls.filter { ($0.outTradeNo ?? "").hasPrefix(decoyPrefix) }.count
    if early > 0 || decoysTouched > 0 { run.problems.append("\(early) calls before an order was due (\(decoysTouched) decoy rows touched)") }
    if calls.count != closes.count { run.problems.append("the fake saw \(calls.count - closes.count) calls besides the run's closes") }
    let summed = run.daemonCalls.compactMap { $0 }.reduce(0, +)
    if !run.daemonCalls.contains(where: { $0 == nil }), summed != closes.count {
        run.problems.append("the daemons' metrics count \(summed) calls, the fake \(closes.count)")
    }
    log(String(format: "  %@: %d daemon(s), %d closes in %.2f s = %.0f/s; daemons %.0f µs/close (each %@), PostgreSQL %.0f µs/close, fake %.0f µs/close%@",
               spec.name, spec.daemons, run.closes, run.seconds, run.rate, run.daemonsUsPerClose,
               zip(run.daemonCalls, run.usPerOwnClose).map { "\($0.0.map { String($0) } ?? "?") calls, \($0.1.map(f0) ?? "?") µs" }.joined(separator: "; "),
               run.postgresUsPerClose, run.fakeUsPerClose, run.problems.isEmpty ? "" : " PROBLEMS: \(run.problems)"))
    await world.shutdown()
    return run
}

/// Inserts `count` unpaid orders in one statement, two merchants alternating.
func insertPostgresOrders(_ connection: PostgresConnection, prefix: String, count: Int, createdAt: Int64, timeout: Int) async throws {
    guard count > 0 else { return }
    try await connection.runSQL("""
        INSERT INTO pending_orders (mch_id, appid, out_trade_no, created_at, timeout_seconds)
        SELECT CASE i % 2 WHEN 0 THEN '\(BenchWorld.merchants[0])' ELSE '\(BenchWorld.merchants[1])' END, '\(BenchWorld.appID)',
               '\(prefix)' || lpad(i::text, 9, '0'), \(createdAt), \(timeout)
        FROM generate_series(0, \(count - 1)) AS i
        """)
}

/// Waits until the fake has received `count` calls: false after `timeout` seconds or once `alive`
/// says a daemon died. The fake's wait is event-driven; this loop only checks a flag.
func waitForCalls(_ fake: FakeWeChatPay, _ count: Int, timeout: Double, poll: Double, alive: () -> Bool) async -> Bool {
    let arrived = Flag()
    Task { await fake.waitForCalls(count); arrived.set() }
    let deadline = monotonic() + timeout
    while !arrived.isSet {
        guard monotonic() < deadline, alive() else { return arrived.isSet }
        usleep(UInt32(poll * 1e6))
    }
    return true
}

final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.withLock { value = true } }
    var isSet: Bool { lock.withLock { value } }
}

/// The calls a daemon made (`closeorderd_attempts_total`, all outcomes and merchants) from its
/// Prometheus endpoint; nil if it cannot be read.
func scrapeCalls(port: Int) -> Int? {
    guard let (status, text) = try? BenchDaemon.run(binary: "/usr/bin/curl", ["-sf", "--max-time", "5", "http://127.0.0.1:\(port)/metrics"]),
          status == 0 else { return nil }
    var total = 0.0
    for line in text.split(separator: "\n") where line.hasPrefix("closeorderd_attempts_total") {
        total += Double(line.split(separator: " ").last ?? "") ?? 0
    }
    return Int(total)
}
