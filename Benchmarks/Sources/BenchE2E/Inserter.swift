import BenchSupport
import Foundation
import GRDB
#if canImport(Glibc)
import Glibc
#endif

/// P5's second process: inserts orders as the merchant's app would (one autocommit INSERT each,
/// SQLite's own busy handler with a 5 s timeout), paced at a fixed rate, timing every INSERT.
extension Inserter {
    convenience init(database: String, rate: Int, directory: String) throws {
        try self.init(arguments: ["inserter", "--database", database, "--rate", "\(rate)"], directory: directory)
    }
}

/// The child's main loop.
func inserterMain(database: String, rate: Int, stopPath: String, outPath: String) async throws {
    var configuration = Configuration()
    configuration.busyMode = .timeout(5)   // sqlite3_busy_timeout: SQLite's default busy handler
    let queue = try DatabaseQueue(path: database, configuration: configuration)
    let tag = String(getpid())
    try await runPacedInserts(rate: rate, stopPath: stopPath, outPath: outPath,
                              isBusy: { ($0 as? DatabaseError)?.resultCode == .SQLITE_BUSY }) { index in
        try queue.writeWithoutTransaction { db in
            try db.execute(sql: "INSERT INTO pending_orders (mch_id, appid, out_trade_no, created_at, timeout_seconds) VALUES (?, ?, ?, ?, ?)",
                           arguments: [World.merchants[index % 2], World.appID, "APP\(tag)-\(index)", Int64(unixNow()), 900])
        }
    }
}
