import FakeWeChatPay
import Foundation
import GRDB
import WeChatPayV2
import WeChatPayV3
#if canImport(Glibc)
import Glibc
#endif

/// Which WeChat Pay API the run's two merchants use.
enum BenchAPI: String, Sendable {
    /// P1's merchants: one HMAC-SHA256, one MD5.
    case v2
    /// Both on API v3 in public-key mode (RSA-2048 request signatures, `FakeV3Keys.merchant`).
    case v3
}

/// One benchmark run's surroundings: a folder with config and key files, a database, and the fake
/// WeChat Pay served from this process on loopback (so its CPU is this process's NIO threads).
final class World: @unchecked Sendable {
    static let merchants = ["1900000109", "1900000110"]
    static let appID = "wx2421b1c4370ec43b"
    /// The v3 merchants' API certificate serial (not secret; the fake checks it).
    static let v3Serial = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"

    let directory: String
    let api: BenchAPI
    let databasePath: String
    let keys: [String: String]
    let fake: FakeWeChatPay
    let server: FakeWeChatPayServer
    var configPath: String { directory + "/config.json" }
    var counterPath: String { directory + "/commits.bin" }

    init(directory: String, databasePath: String?, latencyMs: Int, api: BenchAPI = .v2) async throws {
        try? FileManager.default.removeItem(atPath: directory)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        self.directory = directory
        self.api = api
        self.databasePath = databasePath ?? directory + "/orders.sqlite"
        var keys: [String: String] = [:]
        for mchID in Self.merchants { keys[mchID] = Nonce.make() }
        self.keys = keys
        fake = FakeWeChatPay(merchants: try keys.map { FakeMerchant(mchID: $0.key, key: try APIKey($0.value), appIDs: [Self.appID]) },
                             unknownOrders: .notPay, now: { Date().timeIntervalSince1970 })
        fake.latency = .milliseconds(latencyMs)
        if api == .v3 {
            for mchID in Self.merchants {
                fake.addV3Merchant(FakeV3Merchant(mchID: mchID, serialNo: Self.v3Serial, publicKey: FakeV3Keys.merchant.publicKey))
            }
        }
        server = FakeWeChatPayServer(fake: fake, threads: 1)
        try await server.start()
    }

    /// nil keeps the daemon's default, as an operator would run it: `concurrency` (the in-flight
    /// limit's ceiling, 256), `batch` (16), `pollMs` (5 s).
    func writeConfig(concurrency: Int? = nil, batch: Int? = nil, pollMs: Int? = nil) throws {
        var throughput: [String] = []
        if let concurrency { throughput.append("\"concurrency\": \(concurrency)") }
        if let batch { throughput.append("\"batch_size\": \(batch)") }
        var merchants: [String] = []
        let v3Files = api == .v3 ? try writeV3Keys() : nil
        for (index, mchID) in Self.merchants.enumerated() {
            if let v3Files {
                merchants.append("""
                    "\(mchID)": { "api": "v3", "appids": ["\(Self.appID)"], "private_key_file": "\(v3Files.privateKey)",
                                  "certificate_serial": "\(Self.v3Serial)", "wechatpay_public_key_file": "\(v3Files.publicKey)",
                                  "wechatpay_public_key_id": "\(fake.v3Identity.publicKeyID)", "rate_per_second": 100000, "burst": 100000 }
                    """)
                continue
            }
            let keyPath = directory + "/\(mchID).key"
            FileManager.default.createFile(atPath: keyPath, contents: Data((keys[mchID]! + "\n").utf8), attributes: [.posixPermissions: 0o600])
            merchants.append("""
                "\(mchID)": { "appids": ["\(Self.appID)"], "sign_type": "\(index == 0 ? "HMAC-SHA256" : "MD5")",
                              "key_file": "\(keyPath)", "rate_per_second": 100000, "burst": 100000 }
                """)
        }
        let config = """
            {
              "database": { "path": "\(databasePath)" },
              "wechatpay": { "primary_url": "\(server.baseURL)", "failover": false },
              \(pollMs.map { "\"schedule\": { \"poll_interval_ms\": \($0) }," } ?? "")
              "throughput": { \(throughput.joined(separator: ", ")) },
              "shutdown": { "grace_ms": 5000 },
              "log": { "format": "logfmt", "level": "warning" },
              "merchants": { \(merchants.joined(separator: ",\n")) }
            }
            """
        FileManager.default.createFile(atPath: configPath, contents: Data(config.utf8), attributes: [.posixPermissions: 0o600])
    }

    /// The v3 merchants' API private key and the fake's WeChat Pay public key, as files (0600).
    private func writeV3Keys() throws -> (privateKey: String, publicKey: String) {
        let privateKey = directory + "/apiclient_key.pem", publicKey = directory + "/wechatpay_public_key.pem"
        FileManager.default.createFile(atPath: privateKey, contents: Data(FakeV3Keys.merchant.pkcs8PEM.utf8), attributes: [.posixPermissions: 0o600])
        FileManager.default.createFile(atPath: publicKey, contents: Data(fake.v3Identity.publicKeyPEM.utf8), attributes: [.posixPermissions: 0o600])
        return (privateKey, publicKey)
    }

    /// Whether `call` is one of this world's closes (v2 `pay/closeorder`, v3 `…/close`).
    func isClose(_ call: FakeCall) -> Bool {
        api == .v2 ? call.path == "/pay/closeorder" : call.path.hasPrefix("/v3/") && call.path.hasSuffix("/close")
    }

    func shutdown() async {
        try? await server.shutdown()
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
final class Daemon: @unchecked Sendable {
    let process = Process()
    let logPath: String

    init(binary: String, arguments: [String], shim: String?, counterPath: String, logPath: String) throws {
        self.logPath = logPath
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("CLOSEORDERD_") && $0.key != "NOTIFY_SOCKET" }
        if let shim, FileManager.default.fileExists(atPath: shim) {
            environment["LD_PRELOAD"] = shim
            environment["BENCH_COMMIT_COUNTER"] = counterPath
        }
        process.environment = environment
        FileManager.default.createFile(atPath: logPath, contents: nil)
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.standardOutput = FileHandle.nullDevice
    }

    var pid: Int32 { process.processIdentifier }
    private(set) var account: CPUAccount?

    func start() throws {
        try process.run()
        account = CPUAccount(pid: pid)
    }

    /// The daemon's CPU seconds so far: exact from its cgroup, else from /proc.
    var cpuSeconds: Double { account?.seconds ?? Proc.cpu(pid: pid) }

    /// SIGTERM, then waits up to `seconds` (SIGKILL after). Returns the exit status.
    func stop(seconds: Double = 30) -> Int32 {
        defer { account?.remove() }
        guard process.isRunning else { return process.terminationStatus }
        kill(pid, SIGTERM)
        let deadline = monotonic() + seconds
        while process.isRunning, monotonic() < deadline { usleep(10_000) }
        if process.isRunning {
            kill(pid, SIGKILL)
            process.waitUntilExit()
            return -9
        }
        return process.terminationStatus
    }

    var logTail: String {
        let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        return String(text.suffix(1500))
    }

    /// Runs a CLI command of the binary to completion.
    static func run(binary: String, _ arguments: [String]) throws -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
