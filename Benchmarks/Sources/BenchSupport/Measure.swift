import Foundation
#if canImport(Glibc)
import Glibc
#endif

// What every benchmark driver shares: its arguments, its clocks, its log, its figures.

public struct BenchError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// `--key value` options and the `--quick` flag.
public struct Arguments {
    public var values: [String: String] = [:]
    public var flags: Set<String> = []
    public init(_ args: ArraySlice<String>) {
        var it = args.makeIterator()
        while let arg = it.next() {
            guard arg.hasPrefix("--") else { continue }
            let key = String(arg.dropFirst(2))
            if key == "quick" { flags.insert(key) } else { values[key] = it.next() ?? "" }
        }
    }
    public func int(_ key: String, _ fallback: Int) -> Int { values[key].flatMap(Int.init) ?? fallback }
}

/// A monotonic clock in seconds.
public func monotonic() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

public func unixNow() -> Double { Date().timeIntervalSince1970 }

public func log(_ text: String) { FileHandle.standardError.write(Data((text + "\n").utf8)) }

public func f0(_ v: Double) -> String { String(format: "%.0f", v) }
public func f1(_ v: Double) -> String { String(format: "%.1f", v) }
public func f2(_ v: Double) -> String { String(format: "%.2f", v) }

/// The daemon's built-in due-time margin (`schedule.margin_seconds`, default 5 s since issue 10): an
/// order is due at created_at + max(timeout, 300) + margin, and lag is measured from then.
public let dueMarginSeconds: Int64 = 5

/// The p-th quantile of sorted values (nearest rank).
public func percentile(_ sorted: [Double], _ p: Double) -> Double {
    guard !sorted.isEmpty else { return .nan }
    return sorted[min(sorted.count - 1, max(0, Int((p * Double(sorted.count)).rounded(.up)) - 1))]
}

/// min / median / max of a figure over runs.
public struct Spread {
    public let min: Double, median: Double, max: Double
    public init(_ values: [Double]) {
        let s = values.filter { !$0.isNaN }.sorted()
        min = s.first ?? .nan
        max = s.last ?? .nan
        median = s.isEmpty ? .nan : (s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2)
    }
    public func format(_ digits: Int = 0, scale: Double = 1) -> String {
        let f = { (v: Double) in String(format: "%.\(digits)f", v * scale) }
        return "\(f(min)) / \(f(median)) / \(f(max))"
    }
}
