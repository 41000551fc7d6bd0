import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The merchant's app as a second process (the driver re-executing itself as `inserter`): one
/// autocommit INSERT per order at a fixed rate, every INSERT timed. Its figures, as the child
/// writes them (JSON) for the driver.
public struct InserterResult: Codable, Sendable {
    public var inserts = 0
    /// SQLite's SQLITE_BUSY (PostgreSQL has none: a new row waits on no lock).
    public var busyErrors = 0
    public var otherErrors = 0
    public var p50Ms = 0.0
    public var p99Ms = 0.0
    public var maxMs = 0.0
    public var firstError: String?
    public var errors: Int { busyErrors + otherErrors }
    public init() {}
}

/// The driver's handle on the child: started with `arguments` (after the executable), stopped by a
/// file it watches for.
public final class Inserter {
    public let process = Process()
    public let stopPath: String
    public let outPath: String

    /// Runs this executable with `arguments` plus `--stop FILE --out FILE` in `directory`.
    public init(arguments: [String], directory: String, name: String = "inserter") throws {
        stopPath = directory + "/\(name).stop"
        outPath = directory + "/\(name).json"
        process.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        process.arguments = arguments + ["--stop", stopPath, "--out", outPath]
        process.standardOutput = FileHandle.standardError
        try process.run()
    }

    public func stop() throws -> InserterResult {
        _ = FileManager.default.createFile(atPath: stopPath, contents: nil)
        process.waitUntilExit()
        guard let data = FileManager.default.contents(atPath: outPath) else { throw BenchError("the inserter wrote no result") }
        return try JSONDecoder().decode(InserterResult.self, from: data)
    }
}

/// The child's loop: calls `insert(index)` (1, 2, …) `rate` times a second until `stopPath`
/// exists, times each call (a failed one too), and writes the figures to `outPath`.
public func runPacedInserts(rate: Int, stopPath: String, outPath: String, isBusy: (any Error) -> Bool = { _ in false },
                            _ insert: (Int) async throws -> Void) async throws {
    let interval = 1.0 / Double(max(rate, 1))
    var latencies: [Double] = []
    latencies.reserveCapacity(max(rate, 1) * 600)
    var result = InserterResult()
    var next = monotonic()
    var index = 0
    while !FileManager.default.fileExists(atPath: stopPath) {
        let now = monotonic()
        if now < next { usleep(UInt32((next - now) * 1e6)) }
        next += interval
        index += 1
        let started = monotonic()
        do {
            try await insert(index)
        } catch {
            if isBusy(error) { result.busyErrors += 1 } else { result.otherErrors += 1 }
            result.firstError = result.firstError ?? String(reflecting: error)
        }
        latencies.append(monotonic() - started)
    }
    latencies.sort()
    result.inserts = latencies.count
    result.p50Ms = percentile(latencies, 0.50) * 1000
    result.p99Ms = percentile(latencies, 0.99) * 1000
    result.maxMs = (latencies.last ?? 0) * 1000
    try JSONEncoder().encode(result).write(to: URL(fileURLWithPath: outPath))
}
