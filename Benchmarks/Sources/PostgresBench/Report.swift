import BenchSupport
import Foundation

// closeorderd-pg-bench's report and run folders (the shared helpers are in BenchSupport).

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
