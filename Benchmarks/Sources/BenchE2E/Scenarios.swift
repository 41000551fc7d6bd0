import BenchSupport
import FakeWeChatPay
import Foundation
import GRDB
#if canImport(Glibc)
import Glibc
#endif

struct Env {
    /// The daemon being run now (the baseline's while `alternate` runs it).
    var binary: String
    /// `--baseline-daemon`: an earlier build every figure is run against, alternating.
    var baseline: String? = nil
    let shim: String?
    let root: String
    /// When set, `perf record` (cpu-clock samples, call graphs) follows the daemon from its first
    /// close to its last, one file per run in this folder.
    var perfDirectory: String? = nil
    var runCounter = 0
    mutating func nextDirectory(_ name: String) -> String {
        runCounter += 1
        return root + "/\(String(format: "%03d", runCounter))-\(name)"
    }
}

/// What one run of the real daemon over a batch of due orders measured.
struct CloseRun {
    var closes = 0
    /// From the fake receiving the first close to the last outcome written (finished_ms).
    var seconds = 0.0
    var rate: Double { Double(closes) / seconds }
    /// From launching the daemon to the last outcome written (startup included).
    var wallSeconds = 0.0
    var daemonCPU = 0.0
    var fakeCPU = 0.0
    var driverCPU = 0.0
    var hwmKB = 0
    var commits: UInt64 = 0
    /// Every close the fake received for this run's orders (pushback included), by arrival.
    var closeCalls: [FakeCall] = []
    /// `pending_orders.attempts` summed and at most, over this run's orders.
    var attemptsSum = 0, attemptsMax = 0
    /// Audit rows (`close_attempts`) for this run's orders, and those that record FREQUENCY_LIMITED.
    var auditRows = 0, auditLimited = 0
    /// Requests other than closes for this run's orders (v3's confirming queries).
    var queries = 0
    var exitStatus: Int32 = 0
    var inserter: InserterResult?
    var lags: [Double] = []
    var problems: [String] = []

    var daemonUsPerClose: Double { daemonCPU / Double(closes) * 1e6 }
    var fakeUsPerClose: Double { fakeCPU / Double(closes) * 1e6 }
    var commitsPerClose: Double { Double(commits) / Double(closes) }
    /// CPU used by daemon and fake together, as a share of the machine's 2 cores.
    var coresBusy: Double { (daemonCPU + fakeCPU) / seconds }
}

struct CloseSpec {
    var name: String
    var orders: Int
    /// nil: the daemon's defaults (ceiling 256, batch 16).
    var concurrency: Int? = nil
    var batch: Int? = nil
    var latencyMs = 0
    /// The fake answers FREQUENCY_LIMITED above this many calls per second (nil: no limit).
    var rateLimit: Double? = nil
    var pollMs: Int? = nil
    /// A database to reuse (P4's big one); nil: a fresh one in the run's folder.
    var database: String? = nil
    /// Rows already finished, inserted into a fresh database before the due ones.
    var finishedRows = 0
    var inserterRate = 0
    /// P2: orders fall due at `perSecond` a second, starting `leadSeconds` after setup.
    var perSecond = 0
    var leadSeconds = 5
    var api = BenchAPI.v2
}

/// Runs the daemon over `spec.orders` orders and measures. The daemon is started after the
/// orders are in place; it is stopped with SIGTERM once none of them is pending or closing.
func runCloses(_ env: inout Env, _ spec: CloseSpec) async throws -> CloseRun {
    let world = try await World(directory: env.nextDirectory(spec.name), databasePath: spec.database, latencyMs: spec.latencyMs, api: spec.api)
    defer { Task { await world.shutdown() } }
    world.fake.setRateLimit(perSecond: spec.rateLimit)
    try world.writeConfig(concurrency: spec.concurrency, batch: spec.batch, pollMs: spec.pollMs)
    let (status, output) = try Daemon.run(binary: env.binary, ["migrate", "--config", world.configPath])
    guard status == 0 else { throw BenchError("migrate failed: \(output)") }
    if spec.finishedRows > 0 {
        try World.insertOrders(path: world.databasePath, prefix: "DONE-", count: spec.finishedRows,
                               createdAt: Int64(unixNow()) - 86_400 * 30, finished: true)
    }
    let prefix = "R\(env.runCounter)-"
    let now = Int64(unixNow())
    let base: Int64 = spec.perSecond > 0 ? now + Int64(spec.leadSeconds) - 300 : now - 400
    try World.insertOrders(path: world.databasePath, prefix: prefix, count: spec.orders, createdAt: base, perSecond: spec.perSecond)

    var inserter: Inserter?
    if spec.inserterRate > 0 {
        inserter = try Inserter(database: world.databasePath, rate: spec.inserterRate, directory: world.directory)
    }
    let daemon = try Daemon(binary: env.binary, arguments: ["run", "--config", world.configPath], shim: env.shim,
                            counterPath: world.counterPath, logPath: world.directory + "/daemon.log")
    FileManager.default.createFile(atPath: world.counterPath, contents: Data(count: 8))
    let launched = unixNow()
    try daemon.start()
    var run = CloseRun()

    // Wait for the first close to reach the fake; take the "before" readings then.
    let firstDeadline = monotonic() + Double(spec.leadSeconds) + 60
    while world.fake.calls.isEmpty {
        guard monotonic() < firstDeadline, daemon.process.isRunning else {
            _ = daemon.stop()
            throw BenchError("\(spec.name): no call reached the fake; daemon log: \(daemon.logTail)")
        }
        usleep(1_000)
    }
    let cpu0 = daemon.cpuSeconds, fake0 = Proc.threadCPU(pid: getpid(), threadPrefix: "NIO-ELT"), self0 = Proc.selfCPU()
    let commits0 = readCounter(world.counterPath)
    let perf = try env.perfDirectory.map { try PerfRecorder(pid: daemon.pid, output: $0 + "/\(spec.name)-\(env.runCounter).perf.data") }

    // Then until none of the due orders is pending or closing.
    let reader = try World.open(world.databasePath)
    let doneDeadline = monotonic() + 120 + Double(spec.orders) / 50 + Double(spec.orders / max(spec.perSecond, 1))
    while true {
        usleep(spec.perSecond > 0 ? 200_000 : 50_000)
        let nowMs = Int64(unixNow() * 1000)
        let dueEnd = spec.perSecond > 0 ? (base + 300 + dueMarginSeconds + Int64(spec.orders / spec.perSecond) + 1) * 1000 : nowMs
        let left = try await reader.read { db in
            let pending = try Int.fetchOne(db, sql: "SELECT count(*) FROM pending_orders WHERE status = 'pending' AND next_attempt_ms <= ?",
                                           // Under pushback, refused orders wait out a backoff: wait for every one.
                                           arguments: [spec.rateLimit != nil ? Int64.max : max(nowMs, dueEnd)]) ?? 0
            let closing = try Int.fetchOne(db, sql: "SELECT count(*) FROM pending_orders WHERE status = 'closing'") ?? 0
            return pending + closing
        }
        if left == 0 { break }
        guard monotonic() < doneDeadline, daemon.process.isRunning else {
            _ = daemon.stop()
            throw BenchError("\(spec.name): \(left) orders still undecided; daemon log: \(daemon.logTail)")
        }
    }
    perf?.stop()
    run.daemonCPU = daemon.cpuSeconds - cpu0
    run.fakeCPU = Proc.threadCPU(pid: getpid(), threadPrefix: "NIO-ELT") - fake0
    run.driverCPU = Proc.selfCPU() - self0
    run.commits = readCounter(world.counterPath) - commits0
    run.hwmKB = Proc.status(pid: daemon.pid, "VmHWM")
    if let inserter { run.inserter = try await Task.detached { try inserter.stop() }.value }
    run.exitStatus = daemon.stop()
    if run.exitStatus != 0 { run.problems.append("daemon exited with status \(run.exitStatus)") }

    let summary = try await reader.read { db in
        try Row.fetchOne(db, sql: """
            SELECT count(*) AS n, sum(status = 'closed') AS closed, max(finished_ms) AS last,
                   sum(attempts) AS attempts, max(attempts) AS maxAttempts,
                   (SELECT count(*) FROM close_attempts WHERE out_trade_no >= ?1 AND out_trade_no < ?2) AS audit,
                   (SELECT count(*) FROM close_attempts WHERE out_trade_no >= ?1 AND out_trade_no < ?2
                                                        AND err_code = 'FREQUENCY_LIMITED') AS auditLimited
            FROM pending_orders WHERE out_trade_no >= ?1 AND out_trade_no < ?2
            """, arguments: [prefix, prefix + "~"])!
    }
    try reader.close()
    let calls = world.fake.calls
    let ownCalls = calls.filter { ($0.outTradeNo ?? "").hasPrefix(prefix) }
    let closes = ownCalls.filter(world.isClose)
    let first = closes.map(\.receivedAt).min() ?? launched
    let last = Double(summary["last"] as Int64? ?? 0) / 1000
    run.closes = summary["closed"] ?? 0
    run.seconds = last - first
    run.wallSeconds = last - launched
    run.closeCalls = closes.sorted { $0.receivedAt < $1.receivedAt }
    run.attemptsSum = summary["attempts"] ?? 0
    run.attemptsMax = summary["maxAttempts"] ?? 0
    run.auditRows = summary["audit"] ?? 0
    run.auditLimited = summary["auditLimited"] ?? 0
    if run.closes != spec.orders { run.problems.append("\(run.closes) of \(spec.orders) orders closed") }
    let acted = closes.filter(\.acted).count
    if acted != spec.orders { run.problems.append("the fake closed \(acted) orders for \(spec.orders)") }
    if spec.rateLimit == nil, closes.count != spec.orders { run.problems.append("the fake saw \(closes.count) closes for \(spec.orders) orders") }
    // One audit row per request sent, the orders' own calls: closes only for v2; for v3 each 204
    // is confirmed by a query, which is a request and an audit row too.
    if run.auditRows != ownCalls.count {
        run.problems.append("\(run.auditRows) audit rows for the fake's \(ownCalls.count) calls (\(closes.count) closes)")
    }
    run.queries = ownCalls.count - closes.count
    // Pushback is not the order's fault: it never costs an attempt.
    if run.attemptsSum != spec.orders || run.attemptsMax != 1 {
        run.problems.append("attempts: \(run.attemptsSum) in all, at most \(run.attemptsMax), for \(spec.orders) orders closed at their first real attempt")
    }
    if calls.contains(where: { !$0.signatureValid }) { run.problems.append("the fake saw a badly signed request") }
    if spec.perSecond > 0 {
        for call in closes {
            guard let no = call.outTradeNo, let index = Int(no.dropFirst(prefix.count)) else { continue }
            let due = Double(base + Int64(index / spec.perSecond) + 300 + dueMarginSeconds)
            run.lags.append(call.receivedAt - due)
        }
        let early = run.lags.filter { $0 < 0 }.count
        if early > 0 { run.problems.append("\(early) closes reached the fake before the order was due") }
    }
    log(String(format: "  %@: %d closes in %.2f s = %.0f/s; daemon %.0f µs/close, fake %.0f µs/close, %.3f commits/close, HWM %d MB%@",
               spec.name, run.closes, run.seconds, run.rate, run.daemonUsPerClose, run.fakeUsPerClose, run.commitsPerClose,
               run.hwmKB / 1024, run.problems.isEmpty ? "" : " PROBLEMS: \(run.problems)"))
    await world.shutdown()
    return run
}

/// P3: the daemon with many orders scheduled and none due; CPU per second of wall time and memory.
struct IdleRun {
    var sliceMsPerSecond: [Double] = []
    var averageMsPerSecond = 0.0
    var hwmKB = 0
    var rssKB = 0
    var commits: UInt64 = 0
    var calls = 0
    var startupSeconds = 0.0
}

func runIdle(_ env: inout Env, scheduled: Int, settleSeconds: Double, slices: Int, sliceSeconds: Double) async throws -> IdleRun {
    let world = try await World(directory: env.nextDirectory("p3-idle"), databasePath: nil, latencyMs: 0)
    defer { Task { await world.shutdown() } }
    try world.writeConfig()
    let (status, output) = try Daemon.run(binary: env.binary, ["migrate", "--config", world.configPath])
    guard status == 0 else { throw BenchError("migrate failed: \(output)") }
    let started = monotonic()
    try World.insertBulk(path: world.databasePath, prefix: "IDLE-", count: scheduled, createdAt: Int64(unixNow()), finished: false, timeout: 3600)
    log(String(format: "  p3: %d scheduled orders inserted in %.1f s", scheduled, monotonic() - started))
    FileManager.default.createFile(atPath: world.counterPath, contents: Data(count: 8))
    let daemon = try Daemon(binary: env.binary, arguments: ["run", "--config", world.configPath], shim: env.shim,
                            counterPath: world.counterPath, logPath: world.directory + "/daemon.log")
    try daemon.start()
    usleep(UInt32(settleSeconds * 1e6))
    guard daemon.process.isRunning else { throw BenchError("p3: daemon exited; log: \(daemon.logTail)") }
    var run = IdleRun()
    let cpuStart = daemon.cpuSeconds, commits0 = readCounter(world.counterPath)
    var previous = cpuStart
    let windowStart = monotonic()
    var sliceStart = windowStart
    for _ in 0..<slices {
        usleep(UInt32(sliceSeconds * 1e6))
        let cpu = daemon.cpuSeconds, now = monotonic()
        run.sliceMsPerSecond.append((cpu - previous) * 1000 / (now - sliceStart))
        previous = cpu
        sliceStart = now
    }
    run.averageMsPerSecond = (previous - cpuStart) * 1000 / (monotonic() - windowStart)
    run.hwmKB = Proc.status(pid: daemon.pid, "VmHWM")
    run.rssKB = Proc.status(pid: daemon.pid, "VmRSS")
    run.commits = readCounter(world.counterPath) - commits0
    run.calls = world.fake.calls.count
    let exit = daemon.stop()
    if exit != 0 { log("  p3: daemon exited with \(exit)") }
    log(String(format: "  p3: %.3f ms CPU/s over %.0f s (slices %@), HWM %d kB, RSS %d kB, %d commits, %d calls",
               run.averageMsPerSecond, Double(slices) * sliceSeconds,
               run.sliceMsPerSecond.map { String(format: "%.2f", $0) }.joined(separator: " "), run.hwmKB, run.rssKB, run.commits, run.calls))
    await world.shutdown()
    return run
}

/// P4's direct measurement: the daemon's claim statement (B rows, rolled back) and its due-time
/// query, timed in this process on a database.
struct ClaimCost { var claimUs: Double; var nextDueUs: Double }

func measureClaim(database: String, batch: Int, repetitions: Int) throws -> ClaimCost {
    let queue = try World.open(database)
    let claimSQL = """
        UPDATE pending_orders
        SET status = 'closing', lease_owner = ?, lease_token = ?, lease_expires_ms = ?,
            attempts = attempts + 1, first_attempt_ms = coalesce(first_attempt_ms, ?), last_attempt_ms = ?
        WHERE id IN (
            SELECT id FROM pending_orders
            WHERE status = 'pending' AND next_attempt_ms <= ?
              AND (created_at + max(timeout_seconds, ?) + ?) * 1000 <= ?
            ORDER BY next_attempt_ms LIMIT ?)
        RETURNING id, mch_id, appid, out_trade_no, sub_mch_id, sub_appid, created_at, timeout_seconds,
                  attempts, in_doubt, first_attempt_ms
        """
    let nextDueSQL = """
        SELECT min(max(next_attempt_ms, (created_at + max(timeout_seconds, ?) + ?) * 1000)) FROM (
            SELECT next_attempt_ms, created_at, timeout_seconds FROM pending_orders
            WHERE status = 'pending'
            ORDER BY next_attempt_ms LIMIT 64)
        """
    var claimTimes: [Double] = [], dueTimes: [Double] = []
    for _ in 0..<repetitions {
        let now = Int64(unixNow() * 1000)
        var t = monotonic()
        _ = try queue.read { db in try Int64.fetchOne(db, sql: nextDueSQL, arguments: [300, dueMarginSeconds]) }
        dueTimes.append(monotonic() - t)
        t = monotonic()
        try queue.inTransaction(.immediate) { db in
            let rows = try Row.fetchAll(db, sql: claimSQL, arguments: ["bench", UUID().uuidString, now + 60_000, now, now, now, 300, dueMarginSeconds, now, batch])
            guard rows.count == batch else { throw BenchError("claimed \(rows.count) of \(batch)") }
            return .rollback
        }
        claimTimes.append(monotonic() - t)
    }
    try queue.close()
    return ClaimCost(claimUs: Spread(claimTimes).median * 1e6, nextDueUs: Spread(dueTimes).median * 1e6)
}

/// P5's reference: the same merchant inserter for `seconds` with no daemon running, so the
/// table can show how much of the INSERT latency is the disk's and how much the daemon's.
func insertAlone(_ env: inout Env, seconds: Double) async throws -> InserterResult {
    let world = try await World(directory: env.nextDirectory("p5-alone"), databasePath: nil, latencyMs: 0)
    defer { Task { await world.shutdown() } }
    try world.writeConfig()
    let (status, output) = try Daemon.run(binary: env.binary, ["migrate", "--config", world.configPath])
    guard status == 0 else { throw BenchError("migrate failed: \(output)") }
    let inserter = try Inserter(database: world.databasePath, rate: 200, directory: world.directory)
    try await Task.sleep(for: .seconds(seconds))   // a measurement window, not a synchronisation
    return try await Task.detached { try inserter.stop() }.value
}

/// `perf record -e cpu-clock -g -p PID` for the length of a run (software clock samples: this
/// machine's virtual CPUs expose no hardware counters).
final class PerfRecorder {
    let process = Process()

    init(pid: Int32, output: String) throws {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/perf")
        process.arguments = ["record", "-q", "-e", "cpu-clock", "-F", "1999", "-g", "-p", "\(pid)", "-o", output]
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        usleep(200_000)   // perf attaches asynchronously; a missed first 0.2 s only shortens the profile
    }

    func stop() {
        kill(process.processIdentifier, SIGINT)
        process.waitUntilExit()
    }
}
