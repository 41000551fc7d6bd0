import BenchSupport
import Foundation
import GRDB
#if canImport(Glibc)
import Glibc
#endif

/// The merchant's app for P6: a second process inserting one order per autocommit INSERT at a fixed
/// rate, with SQLite's own busy handler (5 s), timing each INSERT.
func runInserter(database: String, rate: Int, stopPath: String, outPath: String) async throws {
    var configuration = Configuration()
    configuration.busyMode = .timeout(5)
    let queue = try DatabaseQueue(path: database, configuration: configuration)
    try await runPacedInserts(rate: rate, stopPath: stopPath, outPath: outPath,
                              isBusy: { ($0 as? DatabaseError)?.resultCode == .SQLITE_BUSY }) { count in
        try queue.writeWithoutTransaction { db in
            try db.execute(sql: "INSERT INTO pending_orders (mch_id, appid, out_trade_no, created_at, timeout_seconds) VALUES (?, ?, ?, ?, 900)",
                           arguments: ["1900000110", "wx2421b1c4370ec43b", "APP\(getpid())-\(count)", Int64(Date().timeIntervalSince1970)])
        }
    }
}
