import FakeWeChatPay
import Foundation
import GRDB
import Testing
import WeChatPayV2

/// Issue 10's end-to-end cases: the real binary, a WAL file, the fake over loopback.
@Suite(.serialized) struct TrustAtTheEdgesEndToEndTests {
    static let mch = "1900000109", appID = "wx2421b1c4370ec43b"

    /// A folder with one merchant's key and a config written from `merchantJSON` and `settings`.
    struct World {
        let directory: URL
        let fake: FakeWeChatPay
        let server: FakeWeChatPayServer
        var configPath: String { directory.appendingPathComponent("config.json").path }
        var databasePath: String { directory.appendingPathComponent("orders.sqlite").path }

        static func start(
            serviceProvider: Bool = false, subMerchants: Set<String> = [], merchantExtras: String = "",
            schedule: String = "\"lease_ms\": 5000",
            retry: String = "\"base_delay_ms\": 200, \"max_delay_ms\": 1000, \"max_attempts\": 3",
            throughput: String = "\"concurrency\": 8, \"batch_size\": 4"
        ) async throws -> World {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
                "closeorderd-edges-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let key = Nonce.make()
            let fake = FakeWeChatPay(
                merchants: [
                    FakeMerchant(
                        mchID: mch, key: try APIKey(key), appIDs: [appID],
                        isServiceProvider: serviceProvider, subMerchants: subMerchants)
                ],
                unknownOrders: .notPay, now: { Date().timeIntervalSince1970 })
            let server = FakeWeChatPayServer(fake: fake)
            try await server.start()
            let keyPath = directory.appendingPathComponent("\(mch).key").path
            _ = FileManager.default.createFile(
                atPath: keyPath, contents: Data((key + "\n").utf8), attributes: [.posixPermissions: 0o600])
            let world = World(directory: directory, fake: fake, server: server)
            let config = """
                {
                  "database": { "path": "\(world.databasePath)" },
                  "wechatpay": { "primary_url": "\(server.baseURL)", "failover": false, "connect_timeout_ms": 500, "total_timeout_ms": 1000 },
                  "retry": { \(retry) },
                  "schedule": { "poll_interval_ms": 100, "margin_seconds": 5, \(schedule) },
                  "throughput": { \(throughput) },
                  "log": { "format": "json", "level": "debug" },
                  "merchants": {
                    "\(mch)": { "appids": ["\(appID)"], "sign_type": "HMAC-SHA256", "key_file": "\(keyPath)"\(merchantExtras) }
                  }
                }
                """
            FileManager.default.createFile(
                atPath: world.configPath, contents: Data(config.utf8), attributes: [.posixPermissions: 0o600])
            let migrate = try await EndToEndWorld.runCLI(["migrate", "--config", world.configPath])
            guard migrate.status == 0 else { throw POSIXError(.EINVAL, userInfo: [NSLocalizedDescriptionKey: migrate.output]) }
            return world
        }

        func insert(_ db: DatabasePool, _ outTradeNo: String, createdAt: Int64, subMchID: String? = nil) throws {
            try db.write { db in
                try db.execute(
                    sql: """
                        INSERT INTO pending_orders (mch_id, appid, out_trade_no, sub_mch_id, created_at, timeout_seconds)
                        VALUES (?, ?, ?, ?, ?, 0)
                        """, arguments: [mch, appID, outTradeNo, subMchID, createdAt])
            }
        }

        func merchantDatabase() throws -> DatabasePool {
            var configuration = Configuration()
            configuration.busyMode = .timeout(5)
            return try DatabasePool(path: databasePath, configuration: configuration)
        }

        /// Runs the daemon until every order is decided (or a minute passes), then stops it.
        func runUntilDecided(_ db: DatabasePool, orders: Int) async throws -> String {
            let socketDirectory = directory.appendingPathComponent("notify")
            try FileManager.default.createDirectory(at: socketDirectory, withIntermediateDirectories: true)
            let notify = try NotifySocket(directory: socketDirectory)
            let daemon = try DaemonProcess(
                arguments: ["run", "--config", configPath], environment: ["NOTIFY_SOCKET": notify.path],
                stderrPath: directory.appendingPathComponent("daemon.log").path)
            try daemon.start()
            let decided = try await eventually(timeout: .seconds(90)) {
                try db.read { db in
                    try Int.fetchOne(db, sql: "SELECT count(*) FROM pending_orders WHERE status IN ('closed', 'paid', 'failed')")
                        == orders
                }
            }
            daemon.signal(SIGTERM)
            #expect(await daemon.exitStatus() == 0)
            #expect(decided, "not every order was decided; log: \(daemon.log.suffix(3000))")
            return daemon.log
        }

        func shutdown() async throws {
            try await server.shutdown()
            if ProcessInfo.processInfo.environment["CLOSEORDERD_KEEP_TEST_DIRS"] != "1" {
                try? FileManager.default.removeItem(at: directory)
            }
        }
    }

    /// Every POST the fake saw is one audit row, per order (AuditAgreement).
    func expectAuditMatchesTheFake(_ world: World, _ db: DatabasePool, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let seen = Dictionary(grouping: world.fake.calls.filter { $0.outTradeNo != nil }, by: { $0.outTradeNo! }).mapValues(
            \.count)
        let audit = try db.read { db in try AuditAgreement.closeRows(db, everyOperation: true) }
        for agreement in AuditAgreement.check(Set(seen.keys).union(audit.keys).sorted(), audit: audit, seen: seen) {
            #expect(agreement.holds, "\(agreement)", sourceLocation: sourceLocation)
        }
    }

    @Test func aRateLimitSendsEachOrderExactlyOnceAndRecordsEveryResult() async throws {
        // Issue 10, defect 1: rate 1/s, lease 3 s, 1 s timeouts. Orders used to wait for tokens while
        // their leases ran out; the daemon rescued its own leases and dropped the real results.
        let world = try await World.start(
            merchantExtras: ", \"rate_per_second\": 2, \"burst\": 1", schedule: "\"lease_ms\": 3000")
        defer { Task { try? await world.shutdown() } }
        let db = try world.merchantDatabase()
        let now = Int64(Date().timeIntervalSince1970)
        let names = (0..<12).map { "RATE-\($0)" }
        for name in names { try world.insert(db, name, createdAt: now - 320) }
        _ = try await world.runUntilDecided(db, orders: names.count)

        let statuses = try await db.read { db in
            try Row.fetchAll(db, sql: "SELECT out_trade_no, status, in_doubt FROM pending_orders")
        }
        for row in statuses {
            #expect(row["status"] as String == "closed", "\(row["out_trade_no"] as String) ended \(row["status"] as String)")
            #expect(row["in_doubt"] as Int == 0, "\(row["out_trade_no"] as String) was left in doubt")
        }
        let closes = world.fake.calls.filter { $0.path.hasSuffix("closeorder") }
        for name in names {
            #expect(
                closes.filter { $0.outTradeNo == name }.count == 1,
                "\(name) was sent \(closes.filter { $0.outTradeNo == name }.count) times")
        }
        try expectAuditMatchesTheFake(world, db)
        #expect(world.fake.violations.isEmpty)
    }

    @Test func oneOrdersBadParametersNeverHoldBackItsMerchant() async throws {
        // Issue 10, defect 2: sub_mch_id sent for an ordinary merchant is that order's fault alone.
        let world = try await World.start()
        defer { Task { try? await world.shutdown() } }
        let db = try world.merchantDatabase()
        let now = Int64(Date().timeIntervalSince1970)
        try world.insert(db, "BAD", createdAt: now - 320, subMchID: "1230000001")
        let healthy = (1...10).map { (name: "GOOD-\($0)", createdAt: now - 305 + Int64($0)) }  // due over the next 10 s
        for order in healthy { try world.insert(db, order.name, createdAt: order.createdAt) }
        _ = try await world.runUntilDecided(db, orders: 11)

        for order in healthy {
            let first = try await db.read { db in
                try Int64.fetchOne(
                    db, sql: "SELECT min(started_ms) FROM close_attempts WHERE out_trade_no = ?", arguments: [order.name])
            }
            let dueMs = (order.createdAt + 305) * 1000
            let started = try #require(first, "\(order.name) was never sent")
            #expect(started >= dueMs && started - dueMs <= 5_000, "\(order.name) sent \(started - dueMs) ms after its due time")
            #expect(
                try await db.read { db in
                    try String.fetchOne(
                        db, sql: "SELECT status FROM pending_orders WHERE out_trade_no = ?", arguments: [order.name])
                } == "closed")
        }
        let bad = try #require(
            try await db.read { db in try Row.fetchOne(db, sql: "SELECT * FROM pending_orders WHERE out_trade_no = 'BAD'") })
        #expect(bad["status"] as String == "failed")
        #expect(bad["attempts"] as Int == 3)
        #expect((bad["last_error"] as String?)?.contains("普通商户不允许传sub_mch_id") == true, "\(bad["last_error"] as String? ?? "")")
        #expect(bad["last_err_code"] as String? == nil, "an unsigned FAIL's words were stored as WeChat's err_code")
        try expectAuditMatchesTheFake(world, db)
        #expect(world.fake.violations.isEmpty)
    }

    @Test func oneBadSubMerchantNeverHoldsBackTheOthers() async throws {
        let world = try await World.start(serviceProvider: true, subMerchants: ["1230000001", "1230000002"])
        defer { Task { try? await world.shutdown() } }
        let db = try world.merchantDatabase()
        let now = Int64(Date().timeIntervalSince1970)
        try world.insert(db, "UNAUTHORISED", createdAt: now - 320, subMchID: "1239999999")
        let healthy = (1...6).map {
            (name: "SUB-\($0)", createdAt: now - 305 + Int64($0), sub: $0.isMultiple(of: 2) ? "1230000002" : "1230000001")
        }
        for order in healthy { try world.insert(db, order.name, createdAt: order.createdAt, subMchID: order.sub) }
        _ = try await world.runUntilDecided(db, orders: 7)

        for order in healthy {
            let first = try await db.read { db in
                try Int64.fetchOne(
                    db, sql: "SELECT min(started_ms) FROM close_attempts WHERE out_trade_no = ?", arguments: [order.name])
            }
            let started = try #require(first, "\(order.name) was never sent")
            #expect(started - (order.createdAt + 305) * 1000 <= 5_000, "\(order.name) of sub-merchant \(order.sub) was held back")
        }
        let bad = try #require(
            try await db.read { db in
                try Row.fetchOne(db, sql: "SELECT * FROM pending_orders WHERE out_trade_no = 'UNAUTHORISED'")
            })
        #expect(bad["status"] as String == "failed")
        #expect((bad["last_error"] as String?)?.contains("NOAUTH") == true, "\(bad["last_error"] as String? ?? "")")
        try expectAuditMatchesTheFake(world, db)
    }
}
