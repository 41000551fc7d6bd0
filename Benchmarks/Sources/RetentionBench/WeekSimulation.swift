import BenchSupport
import Foundation
import GRDB
import OrderClosing
import SQLiteOrderStore
import WeChatPayV2
#if canImport(Glibc)
import Glibc
#endif

/// The week: every simulated 10 minutes the merchant writes that slice's orders, the store closes
/// them (claim, then record with one audit row each, as the daemon does) and a retention round
/// runs with the daemon's own `RetentionSchedule` (no rests: simulated time). The database file
/// (+ WAL) is measured at the end of every day. "One day's worth" is the file at the end of day 1,
/// before anything is old enough to go.
struct WeekSimulation {
    let orders: Int
    let days: Int
    let work: String
    let rate: Int
    static let tickMs: Int64 = 600_000
    static let dayMs: Int64 = 86_400_000

    var path: String { work + "/orders.sqlite" }

    func run() async throws -> String {
        try? FileManager.default.removeItem(atPath: work)
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        let pool = try SQLiteDatabase.openMigrated(path: path)
        let store = SQLiteOrderStore(pool: pool)
        let ticksPerDay = Int(Self.dayMs / Self.tickMs)
        let ticks = days * ticksPerDay
        let perTick = max(1, orders / ticks)
        // Simulated time ends a day before the real now, so the inserter's real-time rows are never due.
        let start = (Int64(Date().timeIntervalSince1970) - Int64(days + 2) * 86_400) * 1000
        var settings = RetentionSchedule.Settings(keepDays: 1)
        settings.roundIntervalMs = Self.tickMs
        settings.restFactor = 0   // simulated time: the rests are measured in the real-time round below
        settings.minRestMs = 0
        var schedule = RetentionSchedule(settings: settings, now: start)
        var daily: [(day: Int, bytes: Int, rows: Int)] = []
        var pruned = PrunedOrders()
        var closed = 0
        let began = monotonic()
        log("P6: \(perTick * ticks) orders over \(days) simulated days (\(perTick) per 10 min), keep_days = 1, file \(path)")
        for tick in 0..<ticks {
            let now = start + Int64(tick + 1) * Self.tickMs
            try await merchantWrites(pool, tick: tick, count: perTick, createdAt: now / 1000 - 400)
            closed += try await closeDue(store, now: now)
            pruned = pruned + (try await retentionRound(store, &schedule, now: now))
            if (tick + 1) % ticksPerDay == 0 {
                let (bytes, rows) = try await measure(pool)
                daily.append((tick / ticksPerDay + 1, bytes, rows))
                log(String(format: "  day %d: %d closed so far, %d pruned, %.1f MB on disk, %d rows (%.0f s)",
                           tick / ticksPerDay + 1, closed, pruned.total, Double(bytes) / 1_048_576, rows, monotonic() - began))
            }
        }
        let weekSeconds = monotonic() - began
        let oneDay = Double(daily.first?.bytes ?? 1)
        let peak = Double(daily.dropFirst().map(\.bytes).max() ?? 0)

        // The merchant's INSERT latency: alone, then while the daemon's schedule prunes a day's worth.
        let alone = try await insertWhile(seconds: 15) { try await Task.sleep(for: .seconds(15)) }
        let backlogNow = start + Int64(ticks) * Self.tickMs + Self.dayMs + Self.tickMs
        let backlog = try await store.countFinishedOrders(finishedBefore: backlogNow - Self.dayMs)
        var pruneRound: RetentionSchedule.Round?
        let during = try await insertWhile(seconds: nil) {
            pruneRound = try await realTimeRound(store, now: backlogNow)
        }
        let (afterBytes, afterRows) = try await measure(pool)
        try pool.close()

        var out = "## P6: retention over a simulated week (\(perTick * ticks) orders, keep_days = 1)\n\n"
        out += "| figure | measured | target | met |\n|---|---|---|---|\n"
        out += String(format: "| database file (+ WAL) at the end of day 1: one day's worth (%d orders) | %.1f MB | – | – |\n",
                      perTick * ticksPerDay, oneDay / 1_048_576)
        out += String(format: "| … largest at the end of days 2–%d, as a multiple of day 1 | %.1f MB = %.2f × | ≤ 1.5 × | %@ |\n",
                      days, peak / 1_048_576, peak / oneDay, peak / oneDay <= 1.5 ? "yes" : "**no**")
        out += "| … at the end of each day (MB) | \(daily.map { String(format: "%.1f", Double($0.bytes) / 1_048_576) }.joined(separator: ", ")) | – | – |\n"
        out += String(format: "| merchant INSERT p99 while a day's worth (%d orders, %d attempts) is pruned | %.2f ms (p50 %.2f, max %.1f; %d inserts, %d busy errors) | ≤ 10 ms (P5) | %@ |\n",
                      backlog.total, backlog.attempts, during.p99Ms, during.p50Ms, during.maxMs, during.inserts, during.busyErrors,
                      during.p99Ms <= 10 && during.busyErrors == 0 ? "yes" : "**no**")
        out += String(format: "| … the same INSERTs alone (no pruning), p99 | %.2f ms (p50 %.2f, max %.1f; %d inserts) | – | – |\n",
                      alone.p99Ms, alone.p50Ms, alone.maxMs, alone.inserts)
        if let round = pruneRound {
            out += String(format: "| … that round: %d orders in %d batches over %.1f s, write transactions %.1f s of it (%.0f %%); %d reclaim steps | – | – | – |\n",
                          round.pruned.total, round.batches, Double(round.endedAt - round.startedAt) / 1000, Double(round.busyMs) / 1000,
                          100 * Double(round.busyMs) / Double(max(1, round.endedAt - round.startedAt)), round.reclaimSteps)
        }
        out += String(format: "| after it: database file (+ WAL) | %.1f MB, %d rows | – | – |\n", Double(afterBytes) / 1_048_576, afterRows)
        out += String(format: "\nThe simulated week took %.0f s of real time (%d closes, %d pruned with their %d attempts through the store).\n",
                      weekSeconds, closed, pruned.total, pruned.attempts)
        return out
    }

    /// The merchant's rows for one slice (workload, not measured): one transaction.
    func merchantWrites(_ pool: DatabasePool, tick: Int, count: Int, createdAt: Int64) async throws {
        try await pool.write { db in
            let statement = try db.makeStatement(sql: "INSERT INTO pending_orders (mch_id, appid, out_trade_no, created_at, timeout_seconds) VALUES (?, ?, ?, ?, 0)")
            for index in 0..<count {
                try statement.execute(arguments: ["1900000109", "wx2421b1c4370ec43b", "W\(tick)-\(index)", createdAt])
            }
        }
    }

    /// Closes everything due at `now` as the daemon's loop does: record the last batch, claim the next.
    func closeDue(_ store: SQLiteOrderStore, now: Int64) async throws -> Int {
        var writes: [OrderWrite] = []
        var closed = 0
        while true {
            let (_, claimed) = try await store.recordAndClaim(writes, claim: ClaimRequest(limit: 256), now: now,
                                                               leaseOwner: "p6", leaseUntil: now + 60_000)
            closed += writes.count
            writes = claimed.map { order in
                OrderWrite(order: order, change: .finish(.closed, outcome: "closed", transactionID: nil, reason: nil), attempts: [
                    AttemptRecord(call: .closeOrder, attempt: order.attempt, startedAt: now, finishedAt: now + 40,
                                  endpoint: "https://api.mch.weixin.qq.com",
                                  response: ResponseSummary(httpStatus: 200, returnCode: "SUCCESS", returnMsg: "OK", resultCode: "SUCCESS", verified: true),
                                  outcome: .closed, error: nil),
                ])
            }
            if claimed.isEmpty { return closed }
        }
    }

    /// The daemon's retention at simulated `now`, its rests skipped (simulated time).
    func retentionRound(_ store: SQLiteOrderStore, _ schedule: inout RetentionSchedule, now: Int64) async throws -> PrunedOrders {
        var pruned = PrunedOrders()
        var clock = now
        while true {
            switch schedule.next(now: clock, idle: true) {
            case .wait(let until):
                if until > now { return pruned }
                clock = until
            case .prune(let cutoff, let limit):
                let result = try await store.pruneFinishedOrders(finishedBefore: cutoff, limit: limit)
                pruned = pruned + result
                schedule.pruned(result, startedAt: clock, now: clock)
            case .reclaim(let pages):
                _ = schedule.reclaimed(freeLeft: try await store.reclaimFreeSpace(pages: pages), startedAt: clock, now: clock)
            }
        }
    }

    /// One round as the daemon runs it, in real time (its rests included), at a cutoff a day before `now`.
    func realTimeRound(_ store: SQLiteOrderStore, now simulated: Int64) async throws -> RetentionSchedule.Round? {
        let clock = SystemOrderClock()
        let offset = simulated - clock.now()
        var schedule = RetentionSchedule(settings: RetentionSchedule.Settings(keepDays: 1), now: clock.now() + offset)
        while true {
            let started = clock.now() + offset
            switch schedule.next(now: started, idle: true) {
            case .wait(let until):
                try await clock.sleep(until: until - offset)
            case .prune(let cutoff, let limit):
                schedule.pruned(try await store.pruneFinishedOrders(finishedBefore: cutoff, limit: limit), startedAt: started, now: clock.now() + offset)
            case .reclaim(let pages):
                let left = try await store.reclaimFreeSpace(pages: pages)
                if let round = schedule.reclaimed(freeLeft: left, startedAt: started, now: clock.now() + offset) { return round }
            }
        }
    }

    /// Bytes of the database and its WAL after a checkpoint, and the rows in both tables.
    func measure(_ pool: DatabasePool) async throws -> (Int, Int) {
        try await pool.writeWithoutTransaction { db in _ = try db.checkpoint(.truncate) }
        let bytes = [path, path + "-wal"].map { ((try? FileManager.default.attributesOfItem(atPath: $0)[.size] as? Int) ?? 0) ?? 0 }.reduce(0, +)
        let rows = try await pool.read { db in
            (try Int.fetchOne(db, sql: "SELECT count(*) FROM pending_orders") ?? 0) + (try Int.fetchOne(db, sql: "SELECT count(*) FROM close_attempts") ?? 0)
        }
        return (bytes, rows)
    }

    /// Runs the inserter process during `body` (or for `seconds`), returns its latencies.
    func insertWhile(seconds: Int?, _ body: () async throws -> Void) async throws -> InserterResult {
        let inserter = try Inserter(arguments: ["inserter", "--database", path, "--rate", "\(rate)"], directory: work,
                                    name: "inserter-\(UUID().uuidString.prefix(6))")
        try await Task.sleep(for: .milliseconds(300))   // let it open the database before the measured part
        try await body()
        return try inserter.stop()
    }
}
