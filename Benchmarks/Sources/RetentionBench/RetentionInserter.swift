import Foundation
import GRDB
#if canImport(Glibc)
import Glibc
#endif

/// The merchant's app for P6: a second process inserting one order per autocommit INSERT at a fixed
/// rate, with SQLite's own busy handler (5 s), timing each INSERT.
struct InserterResult: Codable {
    var inserts = 0
    var busyErrors = 0
    var otherErrors = 0
    var p50Ms = 0.0
    var p99Ms = 0.0
    var maxMs = 0.0
}

func runInserter(database: String, rate: Int, stopPath: String, outPath: String) throws {
    var configuration = Configuration()
    configuration.busyMode = .timeout(5)
    let queue = try DatabaseQueue(path: database, configuration: configuration)
    let interval = 1.0 / Double(max(rate, 1))
    var latencies: [Double] = []
    var result = InserterResult()
    var next = monotonic()
    var count = 0
    while !FileManager.default.fileExists(atPath: stopPath) {
        let now = monotonic()
        if now < next { usleep(UInt32((next - now) * 1e6)) }
        next += interval
        count += 1
        let started = monotonic()
        do {
            try queue.writeWithoutTransaction { db in
                try db.execute(sql: "INSERT INTO pending_orders (mch_id, appid, out_trade_no, created_at, timeout_seconds) VALUES (?, ?, ?, ?, 900)",
                               arguments: ["1900000110", "wx2421b1c4370ec43b", "APP\(getpid())-\(count)", Int64(Date().timeIntervalSince1970)])
            }
        } catch let error as DatabaseError {
            if error.resultCode == .SQLITE_BUSY { result.busyErrors += 1 } else { result.otherErrors += 1 }
        }
        latencies.append(monotonic() - started)
    }
    latencies.sort()
    func percentile(_ p: Double) -> Double {
        latencies.isEmpty ? 0 : latencies[min(latencies.count - 1, max(0, Int((p * Double(latencies.count)).rounded(.up)) - 1))]
    }
    result.inserts = latencies.count
    result.p50Ms = percentile(0.5) * 1000
    result.p99Ms = percentile(0.99) * 1000
    result.maxMs = (latencies.last ?? 0) * 1000
    try JSONEncoder().encode(result).write(to: URL(fileURLWithPath: outPath))
}
