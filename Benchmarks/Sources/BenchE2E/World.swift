import BenchSupport
import FakeWeChatPay
import Foundation
import GRDB

/// One benchmark run's surroundings on SQLite: `BenchWorld` (the folder, the key files, the fake
/// WeChat Pay) and a database file, its config and the commit-counting shim's counter file.
final class World: BenchWorld, @unchecked Sendable {
    let databasePath: String
    var configPath: String { directory + "/config.json" }
    var counterPath: String { directory + "/commits.bin" }

    init(directory: String, databasePath: String?, latencyMs: Int, api: BenchAPI = .v2) async throws {
        self.databasePath = databasePath ?? directory + "/orders.sqlite"
        try await super.init(directory: directory, latencyMs: latencyMs, api: api)
    }

    /// nil keeps the daemon's default, as an operator would run it: `concurrency` (the in-flight
    /// limit's ceiling, 256), `batch` (16), `pollMs` (5 s).
    func writeConfig(concurrency: Int? = nil, batch: Int? = nil, pollMs: Int? = nil) throws {
        var throughput: [String] = []
        if let concurrency { throughput.append("\"concurrency\": \(concurrency)") }
        if let batch { throughput.append("\"batch_size\": \(batch)") }
        var sections: [String] = []
        if let pollMs { sections.append("\"schedule\": { \"poll_interval_ms\": \(pollMs) }") }
        sections.append("\"throughput\": { \(throughput.joined(separator: ", ")) }")
        try writeConfig(to: configPath, database: "{ \"path\": \"\(databasePath)\" }", sections: sections)
    }

    // MARK: The database, as the merchant's side writes it

    static func open(_ path: String) throws -> DatabaseQueue {
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA temp_store = MEMORY") }
        return try DatabaseQueue(path: path, configuration: configuration)
    }

    /// Inserts `count` unpaid orders in one transaction (a recursive CTE), two merchants alternating.
    /// Order i has `created_at = createdAt + i / perSecond` (all at once when perSecond is 0).
    static func insertOrders(path: String, prefix: String, count: Int, createdAt: Int64, perSecond: Int = 0,
                             timeout: Int = 0, finished: Bool = false) throws {
        guard count > 0 else { return }
        let queue = try open(path)
        let spread = perSecond > 0 ? "i / \(perSecond)" : "0"
        let finishedColumns = finished ? ", status, outcome, attempts, first_attempt_ms, last_attempt_ms, finished_ms" : ""
        let finishedValues = finished ? ", 'paid', 'paid', 1, (\(createdAt) + 400) * 1000, (\(createdAt) + 400) * 1000, (\(createdAt) + 400) * 1000" : ""
        try queue.write { db in
            try db.execute(sql: """
                WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i + 1 < ?)
                INSERT INTO pending_orders (mch_id, appid, out_trade_no, created_at, timeout_seconds\(finishedColumns))
                SELECT CASE i % 2 WHEN 0 THEN ? ELSE ? END, ?, ? || printf('%09d', i), ? + \(spread), ?\(finishedValues) FROM seq
                """, arguments: [count, merchants[0], merchants[1], appID, prefix, createdAt, timeout])
        }
        try queue.close()
    }

    /// Builds a large table fast: no journal, no sync, a big cache, one transaction; back to WAL after.
    static func insertBulk(path: String, prefix: String, count: Int, createdAt: Int64, finished: Bool, timeout: Int = 0) throws {
        let queue = try open(path)
        try queue.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA journal_mode = DELETE")
            try db.execute(sql: "PRAGMA journal_mode = OFF")
            try db.execute(sql: "PRAGMA synchronous = OFF")
            try db.execute(sql: "PRAGMA cache_size = -1000000")
        }
        try queue.close()
        try insertOrdersUnjournaled(path: path, prefix: prefix, count: count, createdAt: createdAt, finished: finished, timeout: timeout)
        let again = try open(path)
        try again.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA journal_mode = WAL")
            try db.execute(sql: "ANALYZE")
        }
        try again.close()
    }

    private static func insertOrdersUnjournaled(path: String, prefix: String, count: Int, createdAt: Int64, finished: Bool, timeout: Int) throws {
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA journal_mode = OFF")
            try db.execute(sql: "PRAGMA synchronous = OFF")
            try db.execute(sql: "PRAGMA cache_size = -1000000")
            try db.execute(sql: "PRAGMA temp_store = MEMORY")
        }
        let queue = try DatabaseQueue(path: path, configuration: configuration)
        let finishedColumns = finished ? ", status, outcome, attempts, first_attempt_ms, last_attempt_ms, finished_ms" : ""
        let finishedValues = finished ? ", 'paid', 'paid', 1, (\(createdAt) + 400) * 1000, (\(createdAt) + 400) * 1000, (\(createdAt) + 400) * 1000" : ""
        try queue.write { db in
            try db.execute(sql: """
                WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i + 1 < ?)
                INSERT INTO pending_orders (mch_id, appid, out_trade_no, created_at, timeout_seconds\(finishedColumns))
                SELECT CASE i % 2 WHEN 0 THEN ? ELSE ? END, ?, ? || printf('%09d', i), ?, ?\(finishedValues) FROM seq
                """, arguments: [count, merchants[0], merchants[1], appID, prefix, createdAt, timeout])
        }
        try queue.close()
    }
}

/// The real `closeorderd` binary as a child process, with the commit-counting shim preloaded.
typealias Daemon = BenchDaemon

extension BenchDaemon {
    convenience init(binary: String, arguments: [String], shim: String?, counterPath: String, logPath: String) throws {
        var environment: [String: String] = [:]
        if let shim, FileManager.default.fileExists(atPath: shim) {
            environment["LD_PRELOAD"] = shim
            environment["BENCH_COMMIT_COUNTER"] = counterPath
        }
        try self.init(binary: binary, arguments: arguments, logPath: logPath, environment: environment)
    }
}
