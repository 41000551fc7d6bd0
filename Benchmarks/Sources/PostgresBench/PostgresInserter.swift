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
final class PostgresInserter {
    let process = Process()
    let stopPath: String
    let outPath: String

    init(url: PostgresInserterTarget, rate: Int, directory: String) throws {
        stopPath = directory + "/pg-inserter.stop"
        outPath = directory + "/pg-inserter.json"
        process.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        process.arguments = ["inserter", "--port", String(url.port), "--database", url.database, "--rate", "\(rate)",
                             "--stop", stopPath, "--out", outPath]
        process.standardOutput = FileHandle.standardError
        try process.run()
    }

    func stop() throws -> InserterResult {
        _ = FileManager.default.createFile(atPath: stopPath, contents: nil)
        process.waitUntilExit()
        guard let data = FileManager.default.contents(atPath: outPath) else { throw BenchError("the PostgreSQL inserter wrote no result") }
        return try JSONDecoder().decode(InserterResult.self, from: data)
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
    let interval = 1.0 / Double(rate)
    var latencies: [Double] = []
    latencies.reserveCapacity(rate * 600)
    var result = InserterResult()
    var next = monotonic()
    var index = 0
    let tag = String(getpid())
    let (mchA, mchB, appID) = (BenchWorld.merchants[0], BenchWorld.merchants[1], BenchWorld.appID)
    while !FileManager.default.fileExists(atPath: stopPath) {
        let now = monotonic()
        if now < next { usleep(UInt32((next - now) * 1e6)) }
        next += interval
        index += 1
        let mchID = index % 2 == 0 ? mchA : mchB
        let outTradeNo = "APP\(tag)-\(index)"
        let createdAt = Int64(unixNow())
        let started = monotonic()
        do {
            // Due in 15 minutes: none of these is closed during a run.
            _ = try await connection.query("""
                INSERT INTO pending_orders (mch_id, appid, out_trade_no, created_at, timeout_seconds)
                VALUES (\(mchID), \(appID), \(outTradeNo), \(createdAt), 900)
                """, logger: logger).collect()
            latencies.append(monotonic() - started)
        } catch {
            latencies.append(monotonic() - started)
            result.errors += 1
            result.firstError = result.firstError ?? String(reflecting: error)
        }
    }
    try? await connection.close()
    latencies.sort()
    result.inserts = latencies.count
    result.p50Ms = percentile(latencies, 0.50) * 1000
    result.p99Ms = percentile(latencies, 0.99) * 1000
    result.maxMs = (latencies.last ?? 0) * 1000
    try JSONEncoder().encode(result).write(to: URL(fileURLWithPath: outPath))
}
