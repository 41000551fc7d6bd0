import BenchSupport
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Issue 15's PostgreSQL figures, `closeorderd-bench postgres`:
///
/// | id   | what                                                                   | quick        | full                  |
/// |------|------------------------------------------------------------------------|--------------|-----------------------|
/// | p1   | due orders closed by 1, 2 and 3 daemons on one server, fake at once    | 500 (+50)    | 50,000 (+1,000 decoys)|
/// | p3   | one daemon idle, orders scheduled an hour ahead, CPU in slices         | 10,000, 2×1 s| 1,000,000, 6×10 s     |
/// | p5   | the merchant's INSERT at 200/s alone, then during P1 (1 and 3 daemons) | 2 s alone    | 15 s alone            |
///
/// Runs per point: quick 1, full 3 (`--runs N`). Decoys are orders due in an hour that no daemon may send.
struct PostgresSizes {
    var runs: Int
    var p1Orders: Int, decoys: Int, daemons: [Int]
    var p3Scheduled: Int, p3Settle: Double, p3Slices: Int, p3Slice: Double
    var p5Orders: Int, p5Daemons: [Int], aloneSeconds: Double

    static let quick = PostgresSizes(runs: 1, p1Orders: 500, decoys: 50, daemons: [1, 2, 3],
                                     p3Scheduled: 10_000, p3Settle: 2, p3Slices: 2, p3Slice: 1,
                                     p5Orders: 500, p5Daemons: [1, 3], aloneSeconds: 2)
    static let full = PostgresSizes(runs: 3, p1Orders: 50_000, decoys: 1_000, daemons: [1, 2, 3],
                                    p3Scheduled: 1_000_000, p3Settle: 10, p3Slices: 6, p3Slice: 10,
                                    p5Orders: 50_000, p5Daemons: [1, 3], aloneSeconds: 15)
}

func postgresSuite(_ args: Arguments) async throws -> Int32 {
    guard let binary = args.values["daemon"] else { throw BenchError("--daemon PATH is required") }
    let quick = args.flags.contains("quick")
    var sizes = quick ? PostgresSizes.quick : PostgresSizes.full
    sizes.runs = args.int("runs", sizes.runs)
    sizes.p1Orders = args.int("orders", sizes.p1Orders)
    sizes.p5Orders = args.int("orders", sizes.p5Orders)
    sizes.p3Scheduled = args.int("scheduled", sizes.p3Scheduled)
    if let counts = args.values["daemons"] { sizes.daemons = counts.split(separator: ",").compactMap { Int($0) } }
    if let counts = args.values["p5-daemons"] { sizes.p5Daemons = counts.split(separator: ",").compactMap { Int($0) } }
    let only = Set((args.values["only"] ?? "p1,p5,p3").split(separator: ",").map(String.init))
    let root = args.values["work"] ?? NSTemporaryDirectory() + "closeorderd-bench-postgres"
    try? FileManager.default.removeItem(atPath: root)
    try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    // PostgreSQL's user must reach its folder under the work folder.
    _ = chmod(root, 0o755)
    var env = Env(binary: binary, root: root)
    // `--pg-setting name=value[,name=value]`: a server setting to measure (e.g. synchronous_commit=off).
    let settings = (args.values["pg-setting"] ?? "").split(separator: ",").map(String.init)
    let cluster = try PostgresBenchCluster(directory: root + "/postgres", settings: settings)
    defer { cluster.stop() }

    let report = Report()
    let (_, version) = try BenchDaemon.run(binary: binary, ["--version"])
    let sha = (try? BenchDaemon.run(binary: "/usr/bin/sha256sum", [binary]))?.1 ?? "?"
    report.header.append("daemon measured: `\(binary)` — \(args.values["daemon-build"] ?? "build not named (--daemon-build)"); "
                         + "`--version` \(version.trimmingCharacters(in: .whitespacesAndNewlines)); sha256 \(sha.prefix(16))…")
    report.header.append("daemon settings: its defaults (in-flight ceiling 256, batch 16, poll 5 s, pool of 8 connections) except log level `warning`; "
                         + "in P1 and P5 its metrics endpoint on loopback, read once at the end for each daemon's call count")
    report.header.append("server: \(cluster.version), one cluster for the whole run (initdb in the work folder, 127.0.0.1 over TCP, trust), "
                         + "PostgreSQL's defaults: fsync on, synchronous_commit on, shared_buffers 128 MB; a fresh database per run"
                         + (settings.isEmpty ? "" : "; **changed for this run: \(settings.joined(separator: ", "))**"))
    report.header.append("CPU: each daemon from \(CPUAccount.available ? "its own cpuacct cgroup (ns)" : "/proc (10 ms ticks: no writable cpuacct cgroup)"); PostgreSQL from \(cluster.cpuSource); "
                         + "the fake from this driver's NIO-ELT thread; all from the fake's first close to the last outcome written")
    let loadBefore = ((try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? "?").split(separator: " ").prefix(3).joined(separator: " ")
    report.header.append("machine: \(ProcessInfo.processInfo.activeProcessorCount) cores; load average before \(loadBefore)"
                         + (quick ? "; **quick mode: tiny sizes, checks only, not measurements**" : ""))
    var problems: [String] = []

    if only.contains("p1") {
        var byCount: [Int: [PostgresCloseRun]] = [:]
        for count in sizes.daemons {
            log("== PG P1: \(sizes.p1Orders) due orders (+\(sizes.decoys) not due), \(count) daemon(s)")
            for _ in 0..<sizes.runs {
                let run = try await runPostgresCloses(&env, cluster, PostgresCloseSpec(name: "pg-p1-d\(count)", orders: sizes.p1Orders, decoys: sizes.decoys, daemons: count))
                problems += run.problems.map { "PG P1 (\(count) daemons): \($0)" }
                byCount[count, default: []].append(run)
            }
        }
        let single = Spread(byCount[1]?.map(\.rate) ?? []).median
        for count in sizes.daemons {
            let runs = byCount[count] ?? []
            let id = "PG-P1/\(count)"
            report.add(id, "closes/s, \(sizes.p1Orders) due orders, \(count) daemon(s) on one PostgreSQL, fake at once", Spread(runs.map(\.rate)).format(), "–", nil)
            if count != 1, !single.isNaN {
                report.add(id, "… ratio to 1 daemon (each run over 1 daemon's median)", Spread(runs.map { $0.rate / single }).format(2) + " ×", "– (2 cores: the cost of coordination)", nil)
            }
            report.add(id, "… daemon CPU per close, all daemons together", Spread(runs.map(\.daemonsUsPerClose)).format() + " µs", "–", nil)
            if count > 1 {
                let each = (0..<count).map { i in Spread(runs.compactMap { $0.usPerOwnClose[i] }).format() }
                let shares = (0..<count).map { i in Spread(runs.compactMap { r in r.daemonCalls[i].map { Double($0) / Double(r.closes) } }).format(0, scale: 100) }
                report.add(id, "… each daemon: CPU per close it made (its share of the closes)",
                           zip(each, shares).enumerated().map { "d\($0.offset + 1) \($0.element.0) µs (\($0.element.1) %)" }.joined(separator: "; "), "–", nil)
            }
            report.add(id, "… PostgreSQL CPU per close (the whole cluster)", Spread(runs.map(\.postgresUsPerClose)).format() + " µs", "–", nil)
            report.add(id, "… fake CPU per close; cores busy (daemons + PostgreSQL + fake, of 2)",
                       Spread(runs.map(\.fakeUsPerClose)).format() + " µs; " + Spread(runs.map(\.coresBusy)).format(2), "–", nil)
            report.add(id, "… daemon memory high-water (VmHWM, largest daemon)", Spread(runs.map { Double($0.daemonHWM.max() ?? 0) / 1024 }).format(1) + " MB", "–", nil)
            report.add(id, "… checks: every order closed, closes = orders at the fake, audit rows = calls, Σ attempts = orders, 0 early, 0 decoys sent",
                       runs.allSatisfy(\.problems.isEmpty) ? "all runs pass" : "**failed** (see PROBLEM notes)", "all pass", runs.allSatisfy(\.problems.isEmpty))
        }
    }

    if only.contains("p5") {
        log("== PG P5: the merchant's INSERT at 200/s, alone then during P1")
        let alone = try await postgresInsertAlone(&env, cluster, seconds: sizes.aloneSeconds)
        log(String(format: "  pg inserter alone: %d inserts, p50 %.2f ms, p99 %.2f ms, max %.1f ms, errors %d",
                   alone.inserts, alone.p50Ms, alone.p99Ms, alone.maxMs, alone.errors))
        if alone.errors > 0 { problems.append("PG P5 alone: \(alone.errors) INSERT errors, first: \(alone.firstError ?? "")") }
        report.add("PG-P5", "reference: merchant INSERT at 200/s, no daemon (\(alone.inserts) inserts), p50 / p99 / max",
                   String(format: "%.2f / %.2f / %.1f ms", alone.p50Ms, alone.p99Ms, alone.maxMs), "–", nil)
        for count in sizes.p5Daemons {
            var runs: [PostgresCloseRun] = []
            for _ in 0..<sizes.runs {
                let run = try await runPostgresCloses(&env, cluster, PostgresCloseSpec(name: "pg-p5-d\(count)", orders: sizes.p5Orders, decoys: sizes.decoys,
                                                                                       daemons: count, inserterRate: 200))
                problems += run.problems.map { "PG P5 (\(count) daemons): \($0)" }
                if let i = run.inserter {
                    log(String(format: "  pg inserter: %d inserts, p50 %.2f ms, p99 %.2f ms, max %.1f ms, errors %d %@", i.inserts, i.p50Ms, i.p99Ms, i.maxMs, i.errors, i.firstError ?? ""))
                    if i.errors > 0 { problems.append("PG P5 (\(count) daemons): \(i.errors) INSERT errors, first: \(i.firstError ?? "")") }
                }
                runs.append(run)
            }
            let ins = runs.compactMap(\.inserter)
            let ratio = Spread(ins.map { $0.p99Ms / alone.p99Ms })
            report.add("PG-P5/\(count)", "merchant INSERT p99 at 200/s during P1 with \(count) daemon(s) (\(ins.map(\.inserts).reduce(0, +)) inserts)",
                       Spread(ins.map(\.p99Ms)).format(2) + " ms", "–", nil)
            report.add("PG-P5/\(count)", "… vs the same inserter alone, same run (p99 \(f2(alone.p99Ms)) ms)", ratio.format(2) + " ×", "≤ 2× (P5's bound)", ratio.median <= 2)
            report.add("PG-P5/\(count)", "… INSERT p50 / max; errors", Spread(ins.map(\.p50Ms)).format(2) + " ms / " + Spread(ins.map(\.maxMs)).format(1)
                       + " ms; \(ins.map(\.errors).reduce(0, +))", "0 errors", ins.allSatisfy { $0.errors == 0 })
            report.add("PG-P5/\(count)", "… closes/s meanwhile; checks as P1", Spread(runs.map(\.rate)).format() + "; "
                       + (runs.allSatisfy(\.problems.isEmpty) ? "all runs pass" : "**failed**"), "all pass", runs.allSatisfy(\.problems.isEmpty))
        }
    }

    if only.contains("feed") { try await postgresFeedLatency(&env, cluster, sizes: sizes, report: report, problems: &problems) }
    if only.contains("p3") {
        log("== PG P3: idle with \(sizes.p3Scheduled) orders scheduled an hour ahead")
        let r = try await runPostgresIdle(&env, cluster, scheduled: sizes.p3Scheduled, settleSeconds: sizes.p3Settle, slices: sizes.p3Slices, sliceSeconds: sizes.p3Slice)
        problems += r.problems.map { "PG P3: \($0)" }
        let window = f0(Double(sizes.p3Slices) * sizes.p3Slice)
        report.add("PG-P3", "daemon idle CPU, \(sizes.p3Scheduled) scheduled, none due (\(window) s; average \(f2(r.daemonAverage)))",
                   Spread(r.daemonMsPerSecond).format(3) + " ms/s (per \(f0(sizes.p3Slice)) s slice)", "≤ 1 ms CPU per s", r.daemonAverage <= 1)
        report.add("PG-P3", "… PostgreSQL CPU meanwhile (LISTEN connection, poll, heartbeat, the server's own; average \(f2(r.postgresAverage)))",
                   Spread(r.postgresMsPerSecond).format(3) + " ms/s", "–", nil)
        report.add("PG-P3", "… daemon RSS high-water (VmHWM; RSS now \(f1(Double(r.rssKB) / 1024)) MB)", f1(Double(r.hwmKB) / 1024) + " MB", "≤ 40 MB", Double(r.hwmKB) / 1024 <= 40)
        report.add("PG-P3", "… calls to the fake (nothing due)", "\(r.calls)", "0", r.calls == 0)
        report.notes.append(String(format: "PG P3: the %d scheduled orders were inserted, vacuumed and checkpointed in %.0f s before the daemon started", sizes.p3Scheduled, r.insertSeconds))
    }

    let loadAfter = ((try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? "?").split(separator: " ").prefix(3).joined(separator: " ")
    report.notes.append("load average after: \(loadAfter)")
    report.notes += problems.map { "PROBLEM: " + $0 }
    let text = report.render(title: "PostgreSQL (issue 15): \(quick ? "quick" : "full") mode; min / median / max over runs")
    print(text)
    if let path = args.values["report"] { try text.write(toFile: path, atomically: true, encoding: .utf8) }
    return problems.isEmpty ? 0 : 1
}
