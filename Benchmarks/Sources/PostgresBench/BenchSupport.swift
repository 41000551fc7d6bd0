import Foundation
#if canImport(Glibc)
import Glibc
#endif

// Small helpers of closeorderd-pg-bench: arguments, time, /proc readings, spreads and the report.
// (closeorderd-bench has its own; this target is separate so that building that one never
// builds postgres-nio.)

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// `--key value` options and the `--quick` flag.
struct Arguments {
    var values: [String: String] = [:]
    var flags: Set<String> = []
    init(_ args: ArraySlice<String>) {
        var it = args.makeIterator()
        while let arg = it.next() {
            guard arg.hasPrefix("--") else { continue }
            let key = String(arg.dropFirst(2))
            if key == "quick" { flags.insert(key) } else { values[key] = it.next() ?? "" }
        }
    }
    func int(_ key: String, _ fallback: Int) -> Int { values[key].flatMap(Int.init) ?? fallback }
}

func monotonic() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

func unixNow() -> Double { Date().timeIntervalSince1970 }

func log(_ text: String) { FileHandle.standardError.write(Data((text + "\n").utf8)) }

func f0(_ v: Double) -> String { String(format: "%.0f", v) }
func f1(_ v: Double) -> String { String(format: "%.1f", v) }
func f2(_ v: Double) -> String { String(format: "%.2f", v) }

/// The daemons' due-time margin (`schedule.margin_seconds`, default 5 s).
let dueMarginSeconds: Int64 = 5

/// Readings from /proc.
enum ProcStat {
    /// utime + stime (+ cutime + cstime: children already reaped) of a process, in seconds.
    static func times(pid: Int32, includingReapedChildren: Bool) -> Double {
        guard let fields = fields(pid), fields.count > 14 else { return 0 }
        // fields[0] is stat's field 3 (state): utime is 14, stime 15, cutime 16, cstime 17.
        let indices = includingReapedChildren ? [11, 12, 13, 14] : [11, 12]
        return indices.compactMap { Double(fields[$0]) }.reduce(0, +) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    static func parent(of pid: Int32) -> Int32? {
        guard let fields = fields(pid), fields.count > 1 else { return nil }
        return Int32(fields[1])
    }

    private static func fields(_ pid: Int32) -> [Substring]? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = text.lastIndex(of: ")") else { return nil }
        return text[text.index(after: close)...].split(separator: " ")
    }

    /// On-CPU seconds of this process's threads whose name starts with `prefix` (schedstat, ns).
    static func threadCPU(pid: Int32, prefix: String) -> Double {
        let dir = "/proc/\(pid)/task"
        var total = 0.0
        for tid in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] {
            guard ((try? String(contentsOfFile: "\(dir)/\(tid)/comm", encoding: .utf8)) ?? "").hasPrefix(prefix),
                  let text = try? String(contentsOfFile: "\(dir)/\(tid)/schedstat", encoding: .utf8),
                  let ns = text.split(separator: " ").first.flatMap({ Double($0) }) else { continue }
            total += ns / 1e9
        }
        return total
    }

    /// A `Vm…:` line of /proc/PID/status, in kB.
    static func status(pid: Int32, _ key: String) -> Int {
        let text = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        for line in text.split(separator: "\n") where line.hasPrefix(key + ":") {
            return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "0") ?? 0
        }
        return 0
    }
}

/// The p-th quantile of sorted values (nearest rank).
func percentile(_ sorted: [Double], _ p: Double) -> Double {
    guard !sorted.isEmpty else { return .nan }
    return sorted[min(sorted.count - 1, max(0, Int((p * Double(sorted.count)).rounded(.up)) - 1))]
}

/// min / median / max of a figure over runs.
struct Spread {
    let min: Double, median: Double, max: Double
    init(_ values: [Double]) {
        let s = values.filter { !$0.isNaN }.sorted()
        min = s.first ?? .nan
        max = s.last ?? .nan
        median = s.isEmpty ? .nan : (s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2)
    }
    func format(_ digits: Int = 0, scale: Double = 1) -> String {
        let f = { (v: Double) in String(format: "%.\(digits)f", v * scale) }
        return "\(f(min)) / \(f(median)) / \(f(max))"
    }
}

/// The markdown table the script writes to Benchmarks/results/postgres-MODE.md.
final class Report {
    struct Row { let id, figure, measured, target, met: String }
    var header: [String] = []
    var rows: [Row] = []
    var notes: [String] = []
    func add(_ id: String, _ figure: String, _ measured: String, _ target: String, _ met: Bool?) {
        rows.append(Row(id: id, figure: figure, measured: measured, target: target, met: met.map { $0 ? "yes" : "**no**" } ?? "–"))
    }
    func render(title: String) -> String {
        var out = "## \(title)\n\n"
        if !header.isEmpty { out += header.map { "- " + $0 }.joined(separator: "\n") + "\n\n" }
        out += "| id | figure | measured (min / median / max) | target | met |\n|---|---|---|---|---|\n"
        for r in rows { out += "| \(r.id) | \(r.figure) | \(r.measured) | \(r.target) | \(r.met) |\n" }
        if !notes.isEmpty { out += "\n" + notes.map { "- " + $0 }.joined(separator: "\n") + "\n" }
        return out
    }
}

/// The merchant inserter's figures (milliseconds), written by the child as JSON.
struct InserterResult: Codable {
    var inserts = 0
    var errors = 0
    var p50Ms = 0.0
    var p99Ms = 0.0
    var maxMs = 0.0
    var firstError: String?
}

/// The daemon under test and the run's work folder: one numbered subfolder per run.
struct Env {
    let binary: String
    let root: String
    private(set) var runCounter = 0
    mutating func nextDirectory(_ name: String) -> String {
        runCounter += 1
        return root + "/\(String(format: "%03d", runCounter))-\(name)"
    }
}
