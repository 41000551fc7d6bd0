import BenchSupport
import Foundation
#if canImport(Glibc)
import Glibc
#endif

// closeorderd-bench: end-to-end benchmarks of the real `closeorderd run` binary against the fake
// WeChat Pay (served from this process on loopback), printing the issue's table.
//
//   closeorderd-bench suite --daemon PATH [--shim libcommitcounter.so] [--work DIR] [--quick]
//                           [--only p1,p1v3,p1b,p1r,pushback,p2,p2b,p3,p4,p5,sweep] [--runs N] [--report FILE]
//                           [--python VENV/bin/python (P1r)] [--daemon-build "how it was built"] [--perf DIR]
//                           [--baseline-daemon PATH --baseline-name "REF (how built)"] [--floor closeorderd-floor] [--p1-orders N]
//   closeorderd-bench inserter …   (P5's second process; started by the suite)

struct Sizes {
    var runs: Int
    var p1Orders: Int
    /// P1v3: due orders per run and API (v2 and v3 alternate, `runs` of each).
    var p1v3Orders: Int
    var p1bOrders: Int, p1rOrders: Int, p1rRuns: Int
    var pushbackOrders: Int, pushbackRate: Double
    var p5Orders: Int
    var p4Finished: Int, p4Small: Int, p4Due: Int, claimRepetitions: Int
    var p3Scheduled: Int, p3Settle: Double, p3Slices: Int, p3Slice: Double
    var p2PerSecond: Int, p2Seconds: Int, p2Runs: Int
    var sweepOrders: Int, sweep: [(Int, Int)]

    static let quick = Sizes(runs: 1, p1Orders: 500, p1v3Orders: 200, p1bOrders: 200, p1rOrders: 40, p1rRuns: 1,
                             pushbackOrders: 400, pushbackRate: 200, p5Orders: 1000,
                             p4Finished: 10_000, p4Small: 100, p4Due: 500, claimRepetitions: 50,
                             p3Scheduled: 10_000, p3Settle: 2, p3Slices: 2, p3Slice: 1,
                             p2PerSecond: 100, p2Seconds: 5, p2Runs: 1,
                             sweepOrders: 300, sweep: [(16, 16), (64, 1)])
    static let full = Sizes(runs: 3, p1Orders: 50_000, p1v3Orders: 10_000, p1bOrders: 2_000, p1rOrders: 2_000, p1rRuns: 1,
                            pushbackOrders: 10_000, pushbackRate: 1_000, p5Orders: 50_000,
                            p4Finished: 10_000_000, p4Small: 10_000, p4Due: 20_000, claimRepetitions: 300,
                            p3Scheduled: 1_000_000, p3Settle: 10, p3Slices: 6, p3Slice: 10,
                            p2PerSecond: 1000, p2Seconds: 60, p2Runs: 1,
                            sweepOrders: 10_000,
                            sweep: [(1, 1), (64, 16), (256, 16), (1024, 16), (256, 1), (256, 4), (256, 64)])
}

struct ReportRow {
    let id, figure, measured, target, met: String
    /// The median behind `measured` (for the ratio to the baseline), and the baseline's columns.
    var value: Double? = nil
    var baseline = "", ratio = "–"
}

final class Report {
    /// What was measured: the daemon's build, version and hash.
    var header: [String] = []
    var rows: [ReportRow] = []
    var notes: [String] = []
    var sweep: [String] = []
    /// Set with `--baseline-daemon`: what the baseline column is called.
    var baselineName: String? = nil
    func add(_ id: String, _ figure: String, _ measured: String, _ target: String, _ met: Bool?) {
        rows.append(ReportRow(id: id, figure: figure, measured: measured, target: target, met: met.map { $0 ? "yes" : "**no**" } ?? "–"))
    }
    func render(mode: String) -> String {
        var out = "## Results (\(mode) mode; min / median / max over runs; \"met\" judges the median)\n\n"
        if !header.isEmpty { out += header.map { "- " + $0 }.joined(separator: "\n") + "\n\n" }
        if let baselineName {
            out += "| id | figure | measured (min / median / max) | baseline: \(baselineName) | ÷ baseline (medians) | target | met |\n|---|---|---|---|---|---|---|\n"
            for r in rows { out += "| \(r.id) | \(r.figure) | \(r.measured) | \(r.baseline) | \(r.ratio) | \(r.target) | \(r.met) |\n" }
        } else {
            out += "| id | figure | measured (min / median / max) | target | met |\n|---|---|---|---|---|\n"
            for r in rows { out += "| \(r.id) | \(r.figure) | \(r.measured) | \(r.target) | \(r.met) |\n" }
        }
        if !sweep.isEmpty {
            out += "\n### Concurrency × batch sweep (one run each)\n\n"
            if baselineName != nil {
                out += "| ceiling (concurrency) | batch | closes/s | daemon µs/close | fake µs/close | commits/close | daemon HWM MB | baseline closes/s | baseline daemon µs/close | closes/s ÷ baseline | daemon µs ÷ baseline |\n|---|---|---|---|---|---|---|---|---|---|---|\n"
            } else {
                out += "| ceiling (concurrency) | batch | closes/s | daemon µs/close | fake µs/close | commits/close | daemon HWM MB |\n|---|---|---|---|---|---|---|\n"
            }
            out += sweep.joined(separator: "\n") + "\n"
        }
        if !notes.isEmpty { out += "\n" + notes.map { "- " + $0 }.joined(separator: "\n") + "\n" }
        return out
    }
}


func suite(_ args: Arguments) async throws -> Int32 {
    guard let binary = args.values["daemon"] else { throw BenchError("--daemon PATH is required") }
    let quick = args.flags.contains("quick")
    var sizes = quick ? Sizes.quick : Sizes.full
    sizes.runs = args.int("runs", sizes.runs)
    sizes.p1rRuns = args.int("p1r-runs", sizes.p1rRuns)
    sizes.p2Seconds = args.int("p2-seconds", sizes.p2Seconds)
    sizes.p2Runs = args.int("p2-runs", sizes.p2Runs)
    sizes.p1Orders = args.int("p1-orders", sizes.p1Orders)
    let only = Set((args.values["only"] ?? "p1,p1v3,p1b,p1r,pushback,p5,p4,p3,p2,p2b,sweep").split(separator: ",").map(String.init))
    let root = args.values["work"] ?? NSTemporaryDirectory() + "closeorderd-bench"
    try? FileManager.default.removeItem(atPath: root)
    try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    var env = Env(binary: binary, shim: args.values["shim"], root: root, perfDirectory: args.values["perf"])
    env.baseline = args.values["baseline-daemon"]
    let floor = args.values["floor"]
    let report = Report()
    if let baseline = env.baseline {
        let (_, baseVersion) = try Daemon.run(binary: baseline, ["--version"])
        let baseSha = (try? Daemon.run(binary: "/usr/bin/sha256sum", [baseline]))?.1 ?? "?"
        report.baselineName = args.values["baseline-name"] ?? baseVersion.trimmingCharacters(in: .whitespacesAndNewlines)
        report.header.append("baseline: `\(baseline)` — `--version` \(baseVersion.trimmingCharacters(in: .whitespacesAndNewlines)); "
                             + "sha256 \(baseSha.prefix(16))…; every figure's runs alternate between the two (order swapped every other pair); "
                             + "÷ baseline = our median ÷ the baseline's")
    }
    let (_, version) = try Daemon.run(binary: binary, ["--version"])
    let sha = (try? Daemon.run(binary: "/usr/bin/sha256sum", [binary]))?.1 ?? "?"
    let hash = String(sha.prefix(16))
    report.header.append("daemon measured: `\(binary)` — \(args.values["daemon-build"] ?? "build not named (--daemon-build)"); "
                         + "`--version` \(version.trimmingCharacters(in: .whitespacesAndNewlines)); sha256 \(hash)…")
    report.header.append("daemon settings: its defaults (in-flight limit adaptive, ceiling `throughput.concurrency` 256, batch 16, poll 5 s) "
                         + "except log level `warning` and where a row names a ceiling (c) or batch (b)")
    var problems: [String] = []
    func check(_ run: CloseRun, _ what: String) { problems += run.problems.map { "\(what): \($0)" } }

    report.notes.append(CPUAccount.available
        ? "daemon CPU: from its own cgroup (cpuacct.usage, ns, every thread it ever had)"
        : "daemon CPU: from /proc (no writable cpuacct cgroup; exited threads count in 10 ms ticks)")

    if only.contains("p1") {
        log("== P1: \(sizes.p1Orders) due orders, upstream answering at once")
        // The loopback floor runs once per pair of P1 runs, in the same alternation.
        var floors: [Double] = []
        let p1 = try await env.alternate(runs: sizes.runs) { env in
            let a = try await runCloses(&env, CloseSpec(name: "p1", orders: sizes.p1Orders)); check(a, "P1" + env.side)
            if env.side.isEmpty, let f = runFloor(floor, requests: sizes.p1Orders, concurrency: 64) { floors.append(f) }
            return a
        }
        let floorUs = Spread(floors)
        report.figure(p1.ours, env.baseline == nil ? nil : p1.base) { rows, fast in
            let rates = Spread(fast.map(\.rate))
            let cpu = Spread(fast.map(\.daemonUsPerClose))
            rows.add("P1", "closes/s, \(sizes.p1Orders) due orders, upstream at once", rates.format(), "≥ 17,000/s", rates.median >= 17_000, value: rates.median)
            rows.add("P1", "daemon CPU per close", cpu.format() + " µs", "≤ 70 µs", cpu.median <= 70, value: cpu.median)
            if !floors.isEmpty {
                let ratio = Spread(fast.map { $0.daemonUsPerClose / floorUs.median })
                rows.add("P1", "… ÷ the loopback floor (AsyncHTTPClient → NIO POST, 64 in flight, client CPU \(floorUs.format(1)) µs per request, same run)",
                         ratio.format(2) + " ×", "≤ 2.0 ×", ratio.median <= 2.0, value: ratio.median)
            }
            rows.add("", "fake CPU per close (P1, its NIO thread)", Spread(fast.map(\.fakeUsPerClose)).format() + " µs", "prototype ≈ 23 µs", nil,
                     value: Spread(fast.map(\.fakeUsPerClose)).median)
            rows.add("", "both together, cores busy (of 2)", Spread(fast.map(\.coresBusy)).format(2), "–", nil, value: Spread(fast.map(\.coresBusy)).median)
            rows.add("", "SQLite write commits per close (P1)", Spread(fast.map(\.commitsPerClose)).format(3), "–", nil, value: Spread(fast.map(\.commitsPerClose)).median)
            let hwm = Spread(fast.map { Double($0.hwmKB) / 1024 })
            rows.add("", "daemon memory high-water (VmHWM, P1)", hwm.format(1) + " MB", "–", nil, value: hwm.median)
        }
        report.notes.append("P1 wall time including daemon start-up: \(Spread(p1.ours.map { Double($0.closes) / $0.wallSeconds }).format()) closes/s")
    }

    if only.contains("feed") { try await feedLatency(&env, sizes: sizes, report: report, problems: &problems) }
    if only.contains("p1v3") {
        try await p1v3(&env, sizes: sizes, report: report, problems: &problems)
    }

    if only.contains("p1b") || only.contains("p1r") {
        log("== P1b: \(sizes.p1bOrders) due orders, 50 ms upstream latency")
        let p1b = try await env.alternate(runs: sizes.runs) { env in
            let r = try await runCloses(&env, CloseSpec(name: "p1b", orders: sizes.p1bOrders, latencyMs: 50)); check(r, "P1b" + env.side); return r
        }
        let runs = p1b.ours
        report.figure(p1b.ours, env.baseline == nil ? nil : p1b.base) { rows, runs in
            let rates = Spread(runs.map(\.rate))
            rows.add("P1b", "closes/s, \(sizes.p1bOrders) due orders, 50 ms upstream latency", rates.format(),
                     "– (ceiling 256 / 50 ms = 5,120/s)", nil, value: rates.median)
        }
        if only.contains("p1r") {
            if let python = args.values["python"] {
                let script = args.values["cron-script"] ?? "cron/close_unpaid_wechatpy.py"
                log("== P1r: the wechatpy cron script on \(sizes.p1rOrders) due orders, 50 ms upstream latency")
                var cron: [CronRun] = []
                for _ in 0..<sizes.p1rRuns {
                    let c = try await runCron(&env, python: python, script: script, orders: sizes.p1rOrders, latencyMs: 50)
                    problems += c.problems.map { "P1r: \($0)" }; cron.append(c)
                }
                let cronRate = Spread(cron.map(\.rate))
                report.figure(runs, env.baseline == nil ? nil : p1b.base) { rows, runs in
                    let ratios = Spread(runs.map { $0.rate / cronRate.median })
                    rows.add("P1r", "daemon (P1b) vs a sequential wechatpy cron script (\(sizes.p1rOrders) orders, 50 ms; script \(cronRate.format(1))/s, \(sizes.p1rRuns) run(s))",
                             ratios.format(0) + " ×", "≥ 100×", ratios.median >= 100, value: ratios.median)
                }
            } else {
                report.add("P1r", "daemon vs a sequential wechatpy cron script", "not measured: no wechatpy venv (--python)", "≥ 100×", nil)
            }
        }
    }

    if only.contains("pushback") {
        let limit = sizes.pushbackRate
        log("== Pushback: \(sizes.pushbackOrders) due orders, 50 ms latency, the fake answers FREQUENCY_LIMITED above \(f0(limit)) calls/s")
        let pushback = try await env.alternate(runs: sizes.runs) { env in
            let r = try await runCloses(&env, CloseSpec(name: "pushback", orders: sizes.pushbackOrders, latencyMs: 50, rateLimit: limit))
            check(r, "Pushback" + env.side)
            let p = PushbackStats(calls: r.closeCalls, limit: limit, latencyMs: 50)
            log(String(format: "  pushback%@: %.2f calls/order; limited %.0f %% in the first second, %.1f %% settled; settled: %.0f calls/s offered, %.0f closes/s, %.0f in flight at the fake; attempts %d for %d orders; audit rows %d (%d FREQUENCY_LIMITED)",
                       env.side, p.callsPerOrder, p.limitedShareFirstSecond * 100, p.limitedShareSettled * 100, p.offeredPerSecondSettled,
                       p.closedPerSecondSettled, p.inFlightSettled, r.attemptsSum, r.closes, r.auditRows, r.auditLimited))
            return (run: r, stats: p)
        }
        report.figure(pushback.ours, env.baseline == nil ? nil : pushback.base) { report, both in
        let runs = both.map(\.run), stats = both.map(\.stats)
        let offered = Spread(stats.map(\.offeredPerSecondSettled))
        report.add("Push", "calls/s offered once settled (2nd half of the run), fake limit \(f0(limit))/s, 50 ms latency, \(sizes.pushbackOrders) orders",
                   offered.format(), "≤ limit (+10 %)", offered.median <= limit * 1.1, value: offered.median)
        report.add("Push", "… calls in flight at the fake once settled (median)", Spread(stats.map(\.inFlightSettled)).format(0),
                   "≤ limit × 50 ms = \(f0(limit * 0.05))", Spread(stats.map(\.inFlightSettled)).median <= limit * 0.05 * 1.1,
                   value: Spread(stats.map(\.inFlightSettled)).median)
        report.add("Push", "… FREQUENCY_LIMITED share: first second → settled half",
                   Spread(stats.map(\.limitedShareFirstSecond)).format(0, scale: 100) + " % → " + Spread(stats.map(\.limitedShareSettled)).format(1, scale: 100) + " %", "falls", nil)
        let burned = runs.map { $0.attemptsSum - $0.closes }
        report.add("Push", "… attempts burned by pushback (Σ attempts − orders; audit rows = the fake's calls: \(runs.allSatisfy { $0.auditRows == $0.closeCalls.count } ? "yes" : "**no**"))",
                   burned.map { String($0) }.joined(separator: " / "), "0", burned.allSatisfy { $0 == 0 })
        report.add("", "… closes/s over the whole run (retries 5 s later included); calls per order",
                   Spread(runs.map(\.rate)).format() + "; " + Spread(stats.map(\.callsPerOrder)).format(2), "–", nil, value: Spread(runs.map(\.rate)).median)
        }
    }

    if only.contains("p5") {
        log("== P5: \(sizes.p5Orders) due orders (P1) while a second process inserts 200 orders/s")
        let alone = try await insertAlone(&env, seconds: quick ? 2 : 15)
        log(String(format: "  p5 inserter alone (no daemon): %d inserts, p50 %.2f ms, p99 %.2f ms, max %.1f ms",
                   alone.inserts, alone.p50Ms, alone.p99Ms, alone.maxMs))
        let p5 = try await env.alternate(runs: sizes.runs) { env in
            let r = try await runCloses(&env, CloseSpec(name: "p5", orders: sizes.p5Orders, inserterRate: 200)); check(r, "P5" + env.side)
            if let i = r.inserter {
                log(String(format: "  p5 inserter%@: %d inserts, p50 %.2f ms, p99 %.2f ms, max %.1f ms, busy %d, other errors %d %@",
                           env.side, i.inserts, i.p50Ms, i.p99Ms, i.maxMs, i.busyErrors, i.otherErrors, i.firstError ?? ""))
            }
            return r
        }
        report.figure(p5.ours, env.baseline == nil ? nil : p5.base) { report, runs in
        let ins = runs.compactMap(\.inserter)
        let p99 = Spread(ins.map(\.p99Ms))
        let busy = ins.map(\.busyErrors).reduce(0, +)
        let ratio = Spread(ins.map { $0.p99Ms / alone.p99Ms })
        report.add("P5", "merchant INSERT p99 at 200/s during P1", p99.format(2) + " ms", "–", nil, value: p99.median)
        report.add("P5", "… vs the same inserter alone, same run (p99 \(f2(alone.p99Ms)) ms)", ratio.format(2) + " ×", "≤ 2×", ratio.median <= 2, value: ratio.median)
        report.add("P5", "… SQLITE_BUSY errors (other errors: \(ins.map(\.otherErrors).reduce(0, +)))", "\(busy)", "0", busy == 0)
        report.add("", "… INSERT p50 / max", Spread(ins.map(\.p50Ms)).format(2) + " ms / " + Spread(ins.map(\.maxMs)).format(1) + " ms", "–", nil)
        report.add("", "… closes/s meanwhile", Spread(runs.map(\.rate)).format(), "–", nil, value: Spread(runs.map(\.rate)).median)
        report.add("", "… reference: the same INSERTs with no daemon running, p50 / p99 / max",
                   String(format: "%.2f / %.2f / %.1f ms", alone.p50Ms, alone.p99Ms, alone.maxMs), "–", nil)
        }
    }

    if only.contains("p4") {
        log("== P4: claiming with \(sizes.p4Finished) finished rows vs \(sizes.p4Small)")
        if env.baseline != nil {
            log("== P4 is NOT run against the baseline: its big database is built once, with this daemon's schema")
            report.notes.append("P4: the daemon under test only (its \(sizes.p4Finished)-row database has one schema); for the baseline's, run scripts/bench --only p4 with CLOSEORDERD_BINARY set to it")
        }
        let bigPath = root + "/p4-big.sqlite"
        do {
            let world = try await World(directory: env.nextDirectory("p4-build"), databasePath: bigPath, latencyMs: 0)
            try world.writeConfig()
            let (status, output) = try Daemon.run(binary: binary, ["migrate", "--config", world.configPath])
            guard status == 0 else { throw BenchError("migrate failed: \(output)") }
            let t = monotonic()
            try World.insertBulk(path: bigPath, prefix: "DONE-", count: sizes.p4Finished, createdAt: Int64(unixNow()) - 86_400 * 30, finished: true)
            let size = ((try? FileManager.default.attributesOfItem(atPath: bigPath)[.size] as? Int) ?? 0) ?? 0
            log(String(format: "  p4: %d finished rows built in %.1f s (%d MB)", sizes.p4Finished, monotonic() - t, size >> 20))
            report.notes.append(String(format: "P4's big database: %d finished rows (no audit rows) built in %.0f s, %d MB", sizes.p4Finished, monotonic() - t, size >> 20))
            await world.shutdown()
        }
        // Direct: the daemon's own claim statement (B = 16, rolled back) and due-time query, timed here.
        var claimRatios: [Double] = [], dueRatios: [Double] = [], claimBig: [Double] = [], claimSmall: [Double] = []
        var rateRatios: [Double] = [], cpuRatios: [Double] = []
        for run in 0..<sizes.runs {
            let smallPath = root + "/p4-small-\(run).sqlite"
            let w = try await World(directory: env.nextDirectory("p4-small-build"), databasePath: smallPath, latencyMs: 0)
            try w.writeConfig()
            _ = try Daemon.run(binary: binary, ["migrate", "--config", w.configPath])
            try World.insertOrders(path: smallPath, prefix: "DONE-", count: sizes.p4Small, createdAt: Int64(unixNow()) - 86_400 * 30, finished: true)
            await w.shutdown()
            for path in [smallPath, bigPath] {
                try World.insertOrders(path: path, prefix: "CLAIM\(run)-", count: sizes.p4Due, createdAt: Int64(unixNow()) - 400)
            }
            let small = try measureClaim(database: smallPath, batch: 16, repetitions: sizes.claimRepetitions)
            let big = try measureClaim(database: bigPath, batch: 16, repetitions: sizes.claimRepetitions)
            // Those orders were only for timing the claim: the merchant marks them paid, so the
            // end-to-end runs below close exactly their own orders.
            for path in [smallPath, bigPath] {
                let queue = try World.open(path)
                try await queue.write { db in
                    try db.execute(sql: "UPDATE pending_orders SET status = 'paid' WHERE out_trade_no >= ? AND out_trade_no < ? AND status = 'pending'",
                                   arguments: ["CLAIM\(run)-", "CLAIM\(run)-~"])
                }
                try queue.close()
            }
            log(String(format: "  p4 claim of 16: %.1f µs (small) vs %.1f µs (big); due-time query %.1f vs %.1f µs", small.claimUs, big.claimUs, small.nextDueUs, big.nextDueUs))
            claimRatios.append(big.claimUs / small.claimUs); dueRatios.append(big.nextDueUs / small.nextDueUs)
            claimBig.append(big.claimUs); claimSmall.append(small.claimUs)
            // End to end: the daemon over those due orders, small then big.
            let s = try await runCloses(&env, CloseSpec(name: "p4-small", orders: sizes.p4Due, database: smallPath)); check(s, "P4 small")
            let b = try await runCloses(&env, CloseSpec(name: "p4-big", orders: sizes.p4Due, database: bigPath)); check(b, "P4 big")
            rateRatios.append(s.rate / b.rate); cpuRatios.append(b.daemonUsPerClose / s.daemonUsPerClose)
        }
        let ratio = Spread(claimRatios)
        report.add("P4", "claim statement (B=16) cost, \(sizes.p4Finished) vs \(sizes.p4Small) finished rows (\(Spread(claimBig).format(0)) vs \(Spread(claimSmall).format(0)) µs)",
                   ratio.format(2) + " ×", "≤ 2", ratio.median <= 2)
        report.add("P4", "… due-time query cost ratio", Spread(dueRatios).format(2) + " ×", "≤ 2", Spread(dueRatios).median <= 2)
        report.add("P4", "… end to end: daemon CPU per close ratio (big / small), \(sizes.p4Due) closes", Spread(cpuRatios).format(2) + " ×", "≤ 2", Spread(cpuRatios).median <= 2)
        report.add("", "… end to end: closes/s ratio (small / big)", Spread(rateRatios).format(2) + " ×", "–", nil)
    }

    if only.contains("p3") {
        log("== P3: idle with \(sizes.p3Scheduled) orders scheduled an hour ahead")
        let p3 = try await env.alternate(runs: 1) { env in
            let r = try await runIdle(&env, scheduled: sizes.p3Scheduled, settleSeconds: sizes.p3Settle, slices: sizes.p3Slices, sliceSeconds: sizes.p3Slice)
            if r.calls > 0 { problems.append("P3\(env.side): the fake received \(r.calls) calls although nothing was due") }
            return r
        }
        report.figure(p3.ours[0], p3.base.first) { report, r in
            report.add("P3", "idle CPU, \(sizes.p3Scheduled) scheduled, none due (\(f0(Double(sizes.p3Slices) * sizes.p3Slice)) s window: average \(f2(r.averageMsPerSecond)))",
                       Spread(r.sliceMsPerSecond).format(3) + " ms/s (per \(f0(sizes.p3Slice)) s slice)", "≤ 1 ms CPU per s", r.averageMsPerSecond <= 1,
                       value: r.averageMsPerSecond)
            report.add("P3", "… RSS high-water (VmHWM; RSS now \(f1(Double(r.rssKB) / 1024)) MB)", f1(Double(r.hwmKB) / 1024) + " MB", "≤ 40 MB",
                       Double(r.hwmKB) / 1024 <= 40, value: Double(r.hwmKB))
        }
        report.notes.append("P3: \(p3.ours[0].commits) commits in the idle window (heartbeat/state writes)")
    }

    for (id, latency) in [("p2", 0), ("p2b", 50)] where only.contains(id) {
        let n = sizes.p2PerSecond * sizes.p2Seconds
        let name = id.uppercased()
        log("== \(name): \(sizes.p2PerSecond) orders/s falling due for \(sizes.p2Seconds) s, upstream latency \(latency) ms")
        let p2 = try await env.alternate(runs: sizes.p2Runs) { env in
            let r = try await runCloses(&env, CloseSpec(name: id, orders: n, latencyMs: latency, perSecond: sizes.p2PerSecond, leadSeconds: 5)); check(r, name + env.side)
            let lags = r.lags.sorted()
            let lag = (p50: percentile(lags, 0.5) * 1000, p99: percentile(lags, 0.99) * 1000, max: (lags.last ?? 0) * 1000)
            log(String(format: "  %@%@ lag: p50 %.1f ms, p99 %.1f ms, max %.1f ms, min %.1f ms", id, env.side, lag.p50, lag.p99, lag.max, (lags.first ?? 0) * 1000))
            return lag
        }
        report.figure(p2.ours, env.baseline == nil ? nil : p2.base) { report, lags in
            let p50 = lags.map(\.p50), p99 = lags.map(\.p99), maxes = lags.map(\.max)
            report.add(name, "lag due → request at the fake, p50 (\(sizes.p2PerSecond)/s for \(sizes.p2Seconds) s, upstream latency \(latency) ms, \(sizes.p2Runs) run(s))",
                       Spread(p50).format(1) + " ms", latency == 0 ? "≤ 50 ms" : "–", latency == 0 ? Spread(p50).median <= 50 : nil, value: Spread(p50).median)
            report.add(name, "… p99 (max \(Spread(maxes).format(0)) ms)", Spread(p99).format(1) + " ms", "≤ 250 ms", Spread(p99).median <= 250, value: Spread(p99).median)
        }
    }

    if only.contains("sweep") {
        log("== sweep: \(sizes.sweepOrders) due orders per point")
        for (c, b) in sizes.sweep {
            let point = try await env.alternate(runs: 1) { env in
                let r = try await runCloses(&env, CloseSpec(name: "sweep-c\(c)-b\(b)", orders: sizes.sweepOrders, concurrency: c, batch: b)); check(r, "sweep c=\(c) b=\(b)" + env.side)
                return r
            }
            let r = point.ours[0]
            var line = "| \(c) | \(b) | \(f0(r.rate)) | \(f0(r.daemonUsPerClose)) | \(f0(r.fakeUsPerClose)) | \(String(format: "%.3f", r.commitsPerClose)) | \(f1(Double(r.hwmKB) / 1024)) |"
            if let base = point.base.first {
                line += " \(f0(base.rate)) | \(f0(base.daemonUsPerClose)) | \(f2(r.rate / base.rate)) × | \(f2(r.daemonUsPerClose / base.daemonUsPerClose)) × |"
            }
            report.sweep.append(line)
        }
    }

    if env.shim == nil { report.notes.append("commit counts need the LD_PRELOAD shim (--shim); they read 0 without it") }
    report.notes += problems.map { "PROBLEM: " + $0 }
    let text = report.render(mode: quick ? "quick" : "full")
    print(text)
    if let path = args.values["report"] { try text.write(toFile: path, atomically: true, encoding: .utf8) }
    return problems.isEmpty ? 0 : 1
}

let arguments = CommandLine.arguments
let parsed = Arguments(arguments.dropFirst(2))
switch arguments.dropFirst().first {
case "inserter":
    try await inserterMain(database: parsed.values["database"]!, rate: parsed.int("rate", 200),
                           stopPath: parsed.values["stop"]!, outPath: parsed.values["out"]!)
case "suite":
    do {
        exit(try await suite(parsed))
    } catch {
        log("closeorderd-bench: \(error)")
        exit(2)
    }
default:
    log("usage: closeorderd-bench suite --daemon PATH [--shim SO] [--work DIR] [--quick] [--only p1,p1v3,p1b,p1r,pushback,p2,p2b,p3,p4,p5,sweep] [--runs N] [--report FILE] [--python PATH] [--daemon-build TEXT]")
    exit(64)
}
