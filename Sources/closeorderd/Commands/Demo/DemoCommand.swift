import ArgumentParser
import FakeWeChatPay
import Foundation
import Logging
import OrderClosing
import SQLiteOrderStore
import ServiceLifecycle
import ServiceSupport
import WeChatPayHTTP
import WeChatPayV2
import WeChatPayV3

struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "See closeorderd work: a temporary database, the fake WeChat Pay on loopback, and sample orders.",
        discussion: """
            Writes a config, key files and a fresh database into a temporary folder, starts the built-in fake \
            WeChat Pay on 127.0.0.1, inserts sample orders as a merchant's app would (back-dated so they fall \
            due within seconds; the 5-minute rule is never lowered), and runs the real daemon until every order \
            is decided. Prints each outcome as it happens, then a table, and where the database and logs are. \
            Exits 0 when every order ended as expected.
            """
    )

    @Option(help: ArgumentHelp("Folder for the demo's files (default: a new temporary folder).", valueName: "path"))
    var directory: String?

    func run() async throws {
        let world = try DemoWorld(directory: directory)
        print("closeorderd demo")
        print("  folder:   \(world.directory)")
        print("  database: \(world.databasePath)")
        print("  logs:     \(world.logPath)")

        let fake = try await world.startFake()
        let checked = await CheckedConfig.load(try ConfigOptions.parse(["--config", world.configPath]))
        guard checked.problems.isEmpty else {
            checked.problems.forEach { printError("error: \($0)") }
            throw ExitCode(1)
        }
        // The queue as the daemon opens it; the demo then plays the app through `OrderIntake`.
        let store = try SQLiteQueueFile.openMigrated(path: world.databasePath).store(due: checked.config.due)
        let orders = try await DemoOrders.place(into: store, fake: fake.fake, now: Date())
        print("  fake WeChat Pay: \(fake.baseURL)")
        print("  \(orders.count) orders inserted; they fall due over the next few seconds\n")

        try world.sendLogsToFile()
        LoggingBootstrap.bootstrap(format: .logfmt, level: .info)
        let logger = Logger(label: "closeorderd")
        let wakeups = DemoProgress.wakeups()
        let assembly = try DaemonAssembly(
            config: checked.config, profiles: checked.profiles,
            store: store,
            notifier: SystemdNotifier(environment: [:]), logger: logger, events: wakeups.events)
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: assembly.serviceConfigurations, logger: logger))
        let decided = try await withThrowingTaskGroup(of: Bool.self) { tasks in
            tasks.addTask {
                try await group.run()
                return true
            }
            tasks.addTask {
                let finished = await DemoProgress.watch(
                    feed: store, expected: orders, wakeups: wakeups.stream,
                    continuation: wakeups.continuation, timeout: .seconds(120))
                await group.triggerGracefulShutdown()
                return finished
            }
            var finished = true
            for try await result in tasks { finished = finished && result }
            return finished
        }
        try await assembly.http.shutdown()
        try await fake.shutdown()

        let rows = try await DemoProgress.table(
            feed: store, queue: store, orders: orders, now: SystemOrderClock().now())
        print("\n" + DemoProgress.render(rows))
        let calls = fake.fake.calls
        print(
            "\nfake WeChat Pay saw \(calls.count) calls: \(calls.filter { !$0.signatureValid }.count) with a bad signature, "
                + "\(fake.fake.violations.count) closes before the 5-minute mark")
        print("\nlook closer:")
        print("  closeorderd status --database \(world.databasePath)")
        print("  closeorderd show DEMO-PAID --database \(world.databasePath)")
        print("  sqlite3 \(world.databasePath) 'SELECT out_trade_no, status, outcome FROM pending_orders'")
        let mismatches = DemoOrders.mismatches(orders, rows)
        guard decided, mismatches.isEmpty, fake.fake.violations.isEmpty, calls.allSatisfy(\.signatureValid) else {
            mismatches.forEach { printError("demo: \($0)") }
            printError("demo: FAILED")
            throw ExitCode(1)
        }
        print("\ndemo: every order ended as expected")
    }
}

/// The demo's folder: config, key files, database and log file.
struct DemoWorld {
    static let merchantA = "1900000109", merchantB = "1900000110", appID = "wx2421b1c4370ec43b"
    /// A merchant on API v3 (WeChat Pay public key mode), beside the two on v2.
    static let merchantV3 = "1900000300", v3Serial = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
    /// The demo's call timeout. Only DEMO-TIMEOUT may run into it (the fake holds that answer 30 s);
    /// for every other call it only catches a hang. At 2 s, a loaded machine timed out ordinary
    /// calls and turned their expected outcome into another (closed → already_closed).
    static let timeoutMs = 10_000

    let directory: String
    var databasePath: String { directory + "/orders.sqlite" }
    var logPath: String { directory + "/closeorderd.log" }
    var configPath: String { directory + "/config.json" }
    /// Key text per merchant, random for this run (WeChat's keys are 32 characters too).
    let keys: [String: String]
    /// The v3 merchant's API private key, made for this run (the fake holds its public half).
    let v3Key = MerchantPrivateKey.generate()

    init(directory: String?) throws {
        let folder =
            directory
            ?? FileManager.default.temporaryDirectory.appendingPathComponent(
                "closeorderd-demo-\(getpid())-\(Nonce.make().prefix(6))"
            ).path
        try FileManager.default.createDirectory(
            atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        self.directory = folder
        keys = [Self.merchantA: Nonce.make(), Self.merchantB: Nonce.make()]
    }

    func startFake() async throws -> FakeWeChatPayServer {
        let merchants = try keys.map { FakeMerchant(mchID: $0.key, key: try APIKey($0.value), appIDs: [Self.appID]) }
        let fake = FakeWeChatPay(
            merchants: merchants,
            unknownOrders: .notExist, now: { Date().timeIntervalSince1970 })
        // The fake's own WeChat Pay key pair, generated at start.
        fake.setV3Identity(.make(nowSeconds: Int64(Date().timeIntervalSince1970), key: .generate()))
        fake.addV3Merchant(FakeV3Merchant(mchID: Self.merchantV3, serialNo: Self.v3Serial, publicKey: v3Key.publicKey))
        let server = FakeWeChatPayServer(fake: fake)
        try await server.start()
        try writeV3Keys(fake.v3Identity)
        try writeConfig(fakeURL: server.baseURL, v3PublicKeyID: fake.v3Identity.publicKeyID)
        return server
    }

    func writeV3Keys(_ identity: FakeV3Identity) throws {
        FileManager.default.createFile(
            atPath: directory + "/apiclient_key.pem", contents: Data(v3Key.pkcs8PEM.utf8),
            attributes: [.posixPermissions: 0o600])
        FileManager.default.createFile(
            atPath: directory + "/wechatpay_public_key.pem", contents: Data(identity.publicKeyPEM.utf8),
            attributes: [.posixPermissions: 0o600])
    }

    func writeConfig(fakeURL: String, v3PublicKeyID: String) throws {
        for (mchID, key) in keys {
            let path = directory + "/\(mchID).key"
            FileManager.default.createFile(
                atPath: path, contents: Data((key + "\n").utf8), attributes: [.posixPermissions: 0o600])
        }
        let config = """
            {
              "database": { "path": "\(databasePath)" },
              "wechatpay": { "primary_url": "\(fakeURL)", "failover": false, "connect_timeout_ms": \(Self.timeoutMs / 2),
                             "total_timeout_ms": \(Self.timeoutMs) },
              "retry": { "base_delay_ms": 2000 },
              "throughput": { "concurrency": 8, "batch_size": 4 },
              "schedule": { "poll_interval_ms": 250, "lease_ms": \(Self.timeoutMs * 3) },
              "heartbeat": { "interval_seconds": 5 },
              "log": { "format": "logfmt", "level": "info" },
              "merchants": {
                "\(Self.merchantA)": { "appids": ["\(Self.appID)"], "sign_type": "HMAC-SHA256", "key_file": "\(directory)/\(Self.merchantA).key" },
                "\(Self.merchantB)": { "appids": ["\(Self.appID)"], "sign_type": "MD5", "key_file": "\(directory)/\(Self.merchantB).key" },
                "\(Self.merchantV3)": { "api": "v3", "appids": ["\(Self.appID)"], "private_key_file": "\(directory)/apiclient_key.pem",
                                       "certificate_serial": "\(Self.v3Serial)",
                                       "wechatpay_public_key_file": "\(directory)/wechatpay_public_key.pem",
                                       "wechatpay_public_key_id": "\(v3PublicKeyID)" }
              }
            }
            """
        FileManager.default.createFile(atPath: configPath, contents: Data(config.utf8), attributes: [.posixPermissions: 0o600])
    }

    /// From here on the daemon's log lines go to the log file; the demo's own output stays on stdout.
    func sendLogsToFile() throws {
        let descriptor = open(logPath, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        guard descriptor >= 0 else { throw StoreErrorMessage("cannot open \(logPath)") }
        dup2(descriptor, STDERR_FILENO)
        close(descriptor)
    }
}

#if canImport(Glibc)
    import Glibc
#endif
