import BenchSupport
import FakeWeChatPay
import Foundation
import GRDB

/// P1r's other side: `Benchmarks/cron/close_unpaid_wechatpy.py` (wechatpy, one close per round
/// trip, then an UPDATE of the row) over the same orders, the same fake and the same latency as
/// the daemon's run, timed the same way: first close received by the fake → last `finished_ms`.
struct CronRun {
    var closes = 0
    var seconds = 0.0
    var rate: Double { Double(closes) / seconds }
    var calls = 0
    var problems: [String] = []
}

func runCron(_ env: inout Env, python: String, script: String, orders: Int, latencyMs: Int) async throws -> CronRun {
    let world = try await World(directory: env.nextDirectory("p1r-cron"), databasePath: nil, latencyMs: latencyMs)
    defer { Task { await world.shutdown() } }
    try world.writeConfig()
    let (status, output) = try Daemon.run(binary: env.binary, ["migrate", "--config", world.configPath])
    guard status == 0 else { throw BenchError("migrate failed: \(output)") }
    let prefix = "R\(env.runCounter)-"
    try World.insertOrders(path: world.databasePath, prefix: prefix, count: orders, createdAt: Int64(unixNow()) - 400)

    let process = Process()
    process.executableURL = URL(fileURLWithPath: python)
    process.arguments = [script, world.configPath]
    let out = Pipe()
    process.standardOutput = out
    process.standardError = FileHandle(forWritingAtPath: "/dev/stderr")
    try process.run()
    let printed = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()

    var run = CronRun()
    if process.terminationStatus != 0 {
        run.problems.append("the cron script exited \(process.terminationStatus): \(String(decoding: printed, as: UTF8.self))")
    }
    let reader = try World.open(world.databasePath)
    let summary = try await reader.read { db in
        try Row.fetchOne(db, sql: """
            SELECT sum(status = 'closed') AS closed, max(finished_ms) AS last
            FROM pending_orders WHERE out_trade_no >= ? AND out_trade_no < ?
            """, arguments: [prefix, prefix + "~"])!
    }
    try reader.close()
    let closes = world.fake.calls.filter { $0.path == "/pay/closeorder" && ($0.outTradeNo ?? "").hasPrefix(prefix) }
    run.closes = summary["closed"] ?? 0
    run.calls = closes.count
    let first = closes.map(\.receivedAt).min() ?? 0
    run.seconds = Double(summary["last"] as Int64? ?? 0) / 1000 - first
    if run.closes != orders { run.problems.append("the cron script closed \(run.closes) of \(orders) orders") }
    if closes.count != orders { run.problems.append("the fake saw \(closes.count) closes from the cron script for \(orders) orders") }
    if closes.contains(where: { !$0.signatureValid }) { run.problems.append("the fake saw a badly signed request from wechatpy") }
    log(String(format: "  p1r-cron: %d closes in %.2f s = %.1f/s (wechatpy, sequential)%@", run.closes, run.seconds, run.rate,
               run.problems.isEmpty ? "" : " PROBLEMS: \(run.problems)"))
    await world.shutdown()
    return run
}
