import BenchSupport
import Foundation

// Issue 24: every end-to-end figure A/B against an earlier build, in one invocation
// (`scripts/bench --baseline REF` → `--baseline-daemon PATH`). Each figure's runs alternate
// between the two daemons, the order swapped every other pair, so a drift in the machine's load
// falls on both alike; every table gains the baseline's figure and the ratio of the medians.

extension Env {
    /// Runs `body` `runs` times with the daemon under test and, with a baseline, as many times with
    /// the baseline, alternating (ours first in even pairs, the baseline first in odd ones).
    mutating func alternate<T>(runs: Int, _ body: (inout Env) async throws -> T) async throws -> (ours: [T], base: [T]) {
        var ours: [T] = [], base: [T] = []
        for index in 0..<runs {
            let sides: [Bool] = baseline == nil ? [false] : (index % 2 == 0 ? [false, true] : [true, false])
            for isBaseline in sides {
                let measured = binary
                if isBaseline, let baseline { binary = baseline }
                let result: T
                do { result = try await body(&self) } catch { binary = measured; throw error }
                binary = measured
                if isBaseline { base.append(result) } else { ours.append(result) }
            }
        }
        return (ours, base)
    }

    /// "" for the daemon under test, " (baseline)" while the baseline runs, for problem lines.
    var side: String { baseline != nil && binary == baseline ? " (baseline)" : "" }
}

/// A figure's rows, built once from our runs and once from the baseline's (same code, same order).
final class Rows {
    var rows: [ReportRow] = []
    /// `value` is the figure's median, for the ratio to the baseline (nil: no ratio, e.g. text).
    func add(_ id: String, _ figure: String, _ measured: String, _ target: String, _ met: Bool?, value: Double? = nil) {
        rows.append(ReportRow(id: id, figure: figure, measured: measured, target: target,
                              met: met.map { $0 ? "yes" : "**no**" } ?? "–", value: value))
    }
}

extension Report {
    /// Adds a figure's rows from `ours`; with `base`, each row also gets the baseline's figure and
    /// ours ÷ the baseline's median.
    func figure<T>(_ ours: T, _ base: T?, _ make: (Rows, T) -> Void) {
        let mine = Rows()
        make(mine, ours)
        guard let base else { rows += mine.rows; return }
        let theirs = Rows()
        make(theirs, base)
        for (index, var row) in mine.rows.enumerated() {
            let other = index < theirs.rows.count ? theirs.rows[index] : nil
            row.baseline = other?.measured ?? "–"
            if let a = row.value, let b = other?.value, b != 0, a.isFinite, b.isFinite {
                row.ratio = String(format: "%.2f ×", a / b)
            }
            rows.append(row)
        }
    }
}

/// The loopback floor (`closeorderd-floor`): client CPU per request of an AsyncHTTPClient → NIO
/// POST loop at `concurrency`, nil when the floor binary is not given or fails.
func runFloor(_ path: String?, requests: Int, concurrency: Int) -> Double? {
    guard let path else { return nil }
    guard let (status, output) = try? Daemon.run(binary: path, ["--requests", "\(requests)", "--concurrency", "\(concurrency)",
                                                                "--warmup", "\(max(requests / 10, 200))"]),
          status == 0,
          let field = output.split(whereSeparator: \.isWhitespace).first(where: { $0.hasPrefix("client_us_per_request=") }),
          let value = Double(field.dropFirst("client_us_per_request=".count)) else {
        log("  floor: \(path) failed")
        return nil
    }
    log(String(format: "  floor: %.1f µs client CPU per request (%d requests, %d in flight)", value, requests, concurrency))
    return value
}
