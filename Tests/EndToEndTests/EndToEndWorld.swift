import FakeWeChatPay
import Foundation
import GRDB
import Synchronization
import Testing
import WeChatPayV2

/// A temporary folder with a config, key files and a database; the fake WeChat Pay on loopback;
/// and the merchant's side of the database, written from this (second) process.
struct EndToEndWorld {
    static let mchA = "1900000109", mchB = "1900000110", appID = "wx2421b1c4370ec43b"

    let directory: URL
    let keys: [String: String]
    let fake: FakeWeChatPay
    let server: FakeWeChatPayServer
    /// The daemons this world started. `shutdown()` kills any still running before the fake goes:
    /// a daemon left behind (a test that failed before its SIGTERM) would go on sending to this
    /// port after another test's fake was given it, and that fake would see calls signed with a
    /// key it does not know.
    let daemons = DaemonList()
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
        /// Serves metrics on this port when set (a `ReservedPort`'s, so it cannot collide).
        var metricsPort: Int?
        /// `retention.keep_days`, when set.
        var keepDays: Int?
        /// `database.url`: the queue on PostgreSQL instead of `databasePath`.
        var databaseURL: String?
        /// The fake's clock (unix seconds); nil: the wall clock. A test that holds it still holds
        /// the fake's rate limit still (`FakeWeChatPay.setRateLimit`).
        var fakeNow: (@Sendable () -> Double)?
    }

    static func start(_ settings: Settings = Settings()) async throws -> EndToEndWorld {
        let directory =
            settings.directory
            ?? FileManager.default.temporaryDirectory.appendingPathComponent("closeorderd-e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let keys = [mchA: Nonce.make(), mchB: Nonce.make()]
        let fake = FakeWeChatPay(
            merchants: try keys.map { FakeMerchant(mchID: $0.key, key: try APIKey($0.value), appIDs: [appID]) },
            unknownOrders: .notExist, now: settings.fakeNow ?? { Date().timeIntervalSince1970 })
        let server = FakeWeChatPayServer(fake: fake)
        try await server.start()
        let world = EndToEndWorld(directory: directory, keys: keys, fake: fake, server: server)
        try world.writeConfig(settings)
        return world
    }

    func writeConfig(_ settings: Settings) throws {
        for (mchID, key) in keys {
            let path = directory.appendingPathComponent("\(mchID).key").path
            FileManager.default.createFile(
                atPath: path, contents: Data((key + "\n").utf8), attributes: [.posixPermissions: 0o600])
        }
        let config = """
            {
              "database": \(settings.databaseURL.map { "{ \"url\": \"\($0)\" }" } ?? "{ \"path\": \"\(databasePath)\", \"busy_timeout_ms\": \(settings.busyTimeoutMs) }"),
              "wechatpay": { "primary_url": "\(server.baseURL)", "failover": false, "connect_timeout_ms": \(min(500, settings.totalTimeoutMs)),
                             "total_timeout_ms": \(settings.totalTimeoutMs) },
              "retry": { "base_delay_ms": 200, "max_delay_ms": 1000, "max_attempts": 10 },
              "schedule": { "poll_interval_ms": 100, "lease_ms": \(settings.leaseMs), "margin_seconds": 0 },
              "throughput": { "concurrency": \(settings.concurrency), "batch_size": \(settings.batchSize) },
              "shutdown": { "grace_ms": \(settings.graceMs) },
              "log": { "format": "json", "level": "\(settings.logLevel)" },
              "metrics": { "enabled": \(settings.metricsPort != nil), "port": \(settings.metricsPort ?? 9464) },
              \(settings.keepDays.map { "\"retention\": { \"keep_days\": \($0) }," } ?? "")
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
        for daemon in daemons.all where daemon.process.isRunning {
            daemon.signal(SIGKILL)
            _ = await daemon.exitStatus(within: .seconds(30), "a daemon left running to die by SIGKILL")
        }
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
        let daemon = try DaemonProcess(
            arguments: ["run", "--config", configPath], environment: ["NOTIFY_SOCKET": notify.path],
            stderrPath: directory.appendingPathComponent(logName).path)
        try daemon.start()
        daemons.append(daemon)
        let ready = await notify.waitFor("READY=1", timeout: .seconds(60))
        guard ready.found else {
            throw POSIXError(.ETIMEDOUT, userInfo: [NSLocalizedDescriptionKey: "no READY=1: \(daemon.log.suffix(2000))"])
        }
        return (daemon, notify)
    }

    /// Runs any program to completion and returns its standard output. The wait happens on a
    /// dispatch thread: blocking Swift's small cooperative pool would starve the other tests.
    static func run(_ executable: String, _ arguments: [String], timeout: Duration = .seconds(120)) async throws -> String {
        try await offPool {
            try runBlocking(URL(fileURLWithPath: executable), arguments, mergingStandardError: false, timeout: timeout).output
        }
    }

    static func offPool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(with: Result { try work() }) }
        }
    }

    /// Runs a one-shot CLI command to completion (off the cooperative pool); returns its exit status and output.
    /// The timeout only catches a hang (it kills the command and throws); nothing waits for it to pass.
    static func runCLI(_ arguments: [String], timeout: Duration = .seconds(300)) async throws -> (status: Int32, output: String) {
        try await offPool { try runBlocking(try DaemonProcess.binary(), arguments, mergingStandardError: true, timeout: timeout) }
    }

    private static func runBlocking(
        _ executable: URL, _ arguments: [String], mergingStandardError: Bool,
        timeout: Duration
    ) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        if mergingStandardError { process.standardError = pipe }
        try process.run()
        let watchdog = Watchdog(pid: process.processIdentifier, after: timeout)
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let output = String(decoding: data, as: UTF8.self)
        if watchdog.finish() {
            throw TimedOut(
                awaited: "\(executable.lastPathComponent) \(arguments.joined(separator: " ")) to finish",
                timeout: timeout, detail: String(output.suffix(2000)))
        }
        return (process.terminationStatus, output)
    }
}

/// Kills a child process that outlives its deadline; `finish()` (after the child exited) says whether it had to.
final class Watchdog: @unchecked Sendable {
    private let lock = NSLock()
    private var done = false, fired = false

    init(pid: Int32, after timeout: Duration) {
        let seconds = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18
        DispatchQueue.global().asyncAfter(deadline: .now() + seconds) { [self] in
            lock.withLock {
                guard !done else { return }
                fired = true
                kill(pid, SIGKILL)
            }
        }
    }

    func finish() -> Bool {
        lock.withLock {
            done = true
            return fired
        }
    }
}

/// A bounded wait ran out: says what was awaited, so a regression fails the run instead of hanging it.
struct TimedOut: Error, CustomStringConvertible {
    let awaited: String
    let timeout: Duration
    var detail = ""
    var description: String { "timed out after \(timeout) waiting for \(awaited)" + (detail.isEmpty ? "" : "\n\(detail)") }
}

/// Waits (with a deadline) for a condition on shared state and throws `TimedOut` naming it if it never holds.
func waitUntil(
    _ awaited: String, timeout: Duration = .seconds(60), detail: @autoclosure () -> String = "",
    _ condition: () throws -> Bool
) async throws {
    guard try await eventually(timeout: timeout, condition) else {
        throw TimedOut(awaited: awaited, timeout: timeout, detail: detail())
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

/// The daemons an `EndToEndWorld` started, shared by its copies.
final class DaemonList: Sendable {
    private let list = Mutex<[DaemonProcess]>([])
    func append(_ daemon: DaemonProcess) { list.withLock { $0.append(daemon) } }
    var all: [DaemonProcess] { list.withLock { $0 } }
}
