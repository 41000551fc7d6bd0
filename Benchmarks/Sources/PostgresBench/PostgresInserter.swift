import BenchSupport
import Foundation
import PostgresNIO
#if canImport(Glibc)
import Glibc
#endif

/// Issue 15's merchant app on PostgreSQL: a second process (the driver re-executing itself) that
/// inserts one order per autocommit `INSERT` over its own postgres-nio connection, paced at a fixed
/// rate, timing every INSERT from send to answer (the server's commit, fsync included). The same
/// figures as P5's SQLite inserter (PostgreSQL has no busy error: a new row waits on no lock; any
/// error counts in `errors`).
extension Inserter {
    convenience init(url: PostgresInserterTarget, rate: Int, directory: String) throws {
        try self.init(arguments: ["inserter", "--port", String(url.port), "--database", url.database, "--rate", "\(rate)"],
                      directory: directory, name: "pg-inserter")
    }
}

/// Where the inserter connects: the bench cluster on 127.0.0.1 (user postgres, trust).
struct PostgresInserterTarget { let port: Int; let database: String }

/// The child's main loop.
func postgresInserterMain(port: Int, database: String, rate: Int, stopPath: String, outPath: String) async throws {
    var logger = Logger(label: "bench.pg-inserter")
    logger.logLevel = .error
    let configuration = PostgresConnection.Configuration(host: "127.0.0.1", port: port, username: PostgresBenchCluster.user, password: nil,
                                                         database: database, tls: .disable)
    let connection = try await PostgresConnection.connect(configuration: configuration, id: 1, logger: logger)
    let tag = String(getpid())
    let (mchA, mchB, appID) = (BenchWorld.merchants[0], BenchWorld.merchants[1], BenchWorld.appID)
    try await runPacedInserts(rate: rate, stopPath: stopPath, outPath: outPath) { index in
        let mchID = index % 2 == 0 ? mchA : mchB
        let outTradeNo = "APP\(tag)-\(index)"
        let createdAt = Int64(unixNow())
        // Due in 15 minutes: none of these is closed during a run.
        _ = try await connection.query("""
            INSERT INTO pending_orders (mch_id, appid, out_trade_no, created_at, timeout_seconds)
            VALUES (\(mchID), \(appID), \(outTradeNo), \(createdAt), 900)
            """, logger: logger).collect()
    }
    try? await connection.close()
}
