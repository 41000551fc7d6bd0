import FakeWeChatPay
import Foundation
import GRDB
import WeChatPayV2

/// A temporary folder with a config, key files and a database; the fake WeChat Pay on loopback;
/// and the merchant's side of the database, written from this (second) process.
struct EndToEndWorld {
    static let mchA = "1900000109", mchB = "1900000110", appID = "wx2421b1c4370ec43b"

    let directory: URL
    let keys: [String: String]
    let fake: FakeWeChatPay
    let server: FakeWeChatPayServer
    var configPath: String { directory.appendingPathComponent("config.json").path }
    var databasePath: String { directory.appendingPathComponent("orders.sqlite").path }

    /// Knobs the reliability tests turn; the defaults suit a quick end-to-end run.
    struct Settings {
        var leaseMs = 5_000
        var totalTimeoutMs = 1_000
        var busyTimeoutMs = 5_000
        var concurrency = 8
        var batchSize = 4
        var graceMs = 3_000
        var logLevel = "debug"
        var directory: URL?
        var metricsPort: Int?
    }

    static func start(_ settings: Settings = Settings()) async throws -> EndToEndWorld {
        let directory = settings.directory ?? FileManager.default.temporaryDirectory.appendingPathComponent("closeorderd-e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let keys = [mchA: Nonce.make(), mchB: Nonce.make()]
        let fake = FakeWeChatPay(merchants: try keys.map { FakeMerchant(mchID: $0.key, key: try APIKey($0.value), appIDs: [appID]) },
                                 unknownOrders: .notExist, now: { Date().timeIntervalSince1970 })
        let server = FakeWeChatPayServer(fake: fake)
        try await server.start()
        let world = EndToEndWorld(directory: directory, keys: keys, fake: fake, server: server)
        try world.writeConfig(settings)
        return world
    }

    func writeConfig(_ settings: Settings) throws {
        for (mchID, key) in keys {
            let path = directory.appendingPathComponent("\(mchID).key").path
            FileManager.default.createFile(atPath: path, contents: Data((key + "\n").utf8), attributes: [.posixPermissions: 0o600])
        }
        let config = """
            {
              "database": { "path": "\(databasePath)", "busy_timeout_ms": \(settings.busyTimeoutMs) },
              "wechatpay": { "primary_url": "\(server.baseURL)", "failover": false, "connect_timeout_ms": \(min(500, settings.totalTimeoutMs)),
                             "total_timeout_ms": \(settings.totalTimeoutMs) },
              "retry": { "base_delay_ms": 200, "max_delay_ms": 1000, "max_attempts": 10 },
              "schedule": { "poll_interval_ms": 100, "lease_ms": \(settings.leaseMs), "margin_seconds": 0 },
              "throughput": { "concurrency": \(settings.concurrency), "batch_size": \(settings.batchSize) },
              "shutdown": { "grace_ms": \(settings.graceMs) },
              "log": { "format": "json", "level": "\(settings.logLevel)" },
              "metrics": { "enabled": \(settings.metricsPort != nil), "port": \(settings.metricsPort ?? 9464) },
              "merchants": {
                "\(Self.mchA)": { "appids": ["\(Self.appID)"], "sign_type": "HMAC-SHA256", "key_file": "\(directory.path)/\(Self.mchA).key" },
                "\(Self.mchB)": { "appids": ["\(Self.appID)"], "sign_type": "MD5", "key_file": "\(directory.path)/\(Self.mchB).key" }
              }
            }
            """
        FileManager.default.createFile(atPath: configPath, contents: Data(config.utf8), attributes: [.posixPermissions: 0o600])
    }

    /// The merchant app's connection: a separate pool in this process, as another program would have.
    func merchantDatabase() throws -> DatabasePool {
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        return try DatabasePool(path: databasePath, configuration: configuration)
    }

    func shutdown(removing: Bool = true) async throws {
        try await server.shutdown()
        // CLOSEORDERD_KEEP_TEST_DIRS=1 keeps the folder (logs, database) for a post-mortem.
        if removing, ProcessInfo.processInfo.environment["CLOSEORDERD_KEEP_TEST_DIRS"] != "1" {
            try? FileManager.default.removeItem(at: directory)
        }
    }

    /// Starts `closeorderd run` and waits for its READY=1.
    func startDaemon(logName: String = "daemon.log") async throws -> (DaemonProcess, NotifySocket) {
        let socketDirectory = directory.appendingPathComponent("notify-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: socketDirectory, withIntermediateDirectories: true)
        let notify = try NotifySocket(directory: socketDirectory)
        let daemon = try DaemonProcess(arguments: ["run", "--config", configPath], environment: ["NOTIFY_SOCKET": notify.path],
                                       stderrPath: directory.appendingPathComponent(logName).path)
        try daemon.start()
        let ready = await notify.waitFor("READY=1", timeout: .seconds(60))
        guard ready.found else { throw POSIXError(.ETIMEDOUT, userInfo: [NSLocalizedDescriptionKey: "no READY=1: \(daemon.log.suffix(2000))"]) }
        return (daemon, notify)
    }

    /// Runs any program to completion and returns its standard output. The wait happens on a
    /// dispatch thread: blocking Swift's small cooperative pool would starve the other tests.
    static func run(_ executable: String, _ arguments: [String]) async throws -> String {
        try await offPool { try runBlocking(executable, arguments) }
    }

    static func offPool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(with: Result { try work() }) }
        }
    }

    private static func runBlocking(_ executable: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    /// Runs a one-shot CLI command to completion (off the cooperative pool); returns its exit status and output.
    static func runCLI(_ arguments: [String]) async throws -> (status: Int32, output: String) {
        try await offPool { try runCLIBlocking(arguments) }
    }

    private static func runCLIBlocking(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = try DaemonProcess.binary()
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

/// Waits for a condition on shared state (here, rows another process writes), checking every 50 ms,
/// failing after `timeout`. Cross-process, there is no event to wait on but the data itself.
func eventually(timeout: Duration = .seconds(60), _ condition: () throws -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try condition() { return true }
        try await Task.sleep(for: .milliseconds(50))
    }
    return try condition()
}
