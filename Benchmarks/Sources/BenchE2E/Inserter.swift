import Foundation
import GRDB
#if canImport(Glibc)
import Glibc
#endif

/// P5's second process: inserts orders as the merchant's app would (one autocommit INSERT each,
/// SQLite's own busy handler with a 5 s timeout), paced at a fixed rate, timing every INSERT.
struct InserterResult: Codable {
    var inserts = 0
    var busyErrors = 0
    var otherErrors = 0
    var p50Ms = 0.0
    var p99Ms = 0.0
    var maxMs = 0.0
    var firstError: String?
}

/// The driver's handle on the child process.
final class Inserter {
    let process = Process()
    let stopPath: String
    let outPath: String

    init(database: String, rate: Int, directory: String) throws {
        stopPath = directory + "/inserter.stop"
        outPath = directory + "/inserter.json"
        process.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        process.arguments = ["inserter", "--database", database, "--rate", "\(rate)", "--stop", stopPath, "--out", outPath]
        process.standardOutput = FileHandle.standardError
        try process.run()
    }

    func stop() throws -> InserterResult {
        FileManager.default.createFile(atPath: stopPath, contents: nil)
        process.waitUntilExit()
        guard let data = FileManager.default.contents(atPath: outPath) else { throw BenchError("the inserter wrote no result") }
        return try JSONDecoder().decode(InserterResult.self, from: data)
    }
}

/// The child's main loop.
func inserterMain(database: String, rate: Int, stopPath: String, outPath: String) throws {
    var configuration = Configuration()
    configuration.busyMode = .timeout(5)   // sqlite3_busy_timeout: SQLite's default busy handler
    let queue = try DatabaseQueue(path: database, configuration: configuration)
    let interval = 1.0 / Double(rate)
    var latencies: [Double] = []
    var result = InserterResult()
    var next = monotonic()
    var index = 0
    let tag = String(getpid())
    while !FileManager.default.fileExists(atPath: stopPath) {
        let now = monotonic()
        if now < next { usleep(UInt32((next - now) * 1e6)) }
        next += interval
        index += 1
        let started = monotonic()
        do {
            try queue.writeWithoutTransaction { db in
                try db.execute(sql: "INSERT INTO pending_orders (mch_id, appid, out_trade_no, created_at, timeout_seconds) VALUES (?, ?, ?, ?, ?)",
                               arguments: [World.merchants[index % 2], World.appID, "APP\(tag)-\(index)", Int64(unixNow()), 900])
            }
            latencies.append(monotonic() - started)
        } catch let error as DatabaseError {
            latencies.append(monotonic() - started)
            if error.resultCode == .SQLITE_BUSY { result.busyErrors += 1 } else { result.otherErrors += 1 }
            result.firstError = result.firstError ?? "\(error)"
        }
    }
    latencies.sort()
    result.inserts = latencies.count
    result.p50Ms = percentile(latencies, 0.50) * 1000
    result.p99Ms = percentile(latencies, 0.99) * 1000
    result.maxMs = (latencies.last ?? 0) * 1000
    try JSONEncoder().encode(result).write(to: URL(fileURLWithPath: outPath))
}
