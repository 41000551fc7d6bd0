import FakeWeChatPay
import Foundation
import GRDB
import Testing
import WeChatPayV3

/// Issue 21: bad rows never pause a merchant. The real binary, a WAL file and the fake over
/// loopback. A few orders WeChat refuses on their own parameters, every time, fall due together
/// among a steady stream of healthy orders; their refusals and retries cluster. Every healthy
/// order must be sent within 5 s of its due time (the fake's record of when it saw the call against
/// the due time), every bad order must end `failed` with its reason after exactly its attempts,
/// and the merchant is never paused: the setup probe (a query for a made-up order) proves it.
@Suite(.serialized) struct BadRowsEndToEndTests {
    static let v3Direct = "1900000300", v3Partner = "1900000400", subMchID = "1900000401"
    static let serial = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
    /// Within this of its due time the fake must see a healthy order's first close.
    static let sendBound: Double = 5
    static let maxAttempts = 5

    struct Order {
        let outTradeNo: String
        let mchID: String
        let subMchID: String?
        let createdAt: Int64
        let bad: Bool
        var due: Double { Double(createdAt + 300) }
    }

    /// v2, one merchant: 24 healthy orders due one a second, 6 refused with return_code FAIL on
    /// every call, all due in the same second (no healthy order due then).
    @Test func v2BadRowsNeverHoldUpTheMerchantsOtherOrders() async throws {
        let world = try await EndToEndWorld.start()
        try Self.writeConfig(
            world,
            merchants: """
                "\(EndToEndWorld.mchA)": { "appids": ["\(EndToEndWorld.appID)"], "sign_type": "HMAC-SHA256", "key_file": "\(world.directory.path)/\(EndToEndWorld.mchA).key" }
                """)
        let start = Int64(Date().timeIntervalSince1970) + 3
        var orders = (0..<25).filter { $0 != 2 }.map {
            Order(
                outTradeNo: "GOOD-\($0)", mchID: EndToEndWorld.mchA, subMchID: nil, createdAt: start + Int64($0) - 300, bad: false
            )
        }
        orders += (0..<6).map {
            Order(outTradeNo: "BAD-\($0)", mchID: EndToEndWorld.mchA, subMchID: nil, createdAt: start + 2 - 300, bad: true)
        }
        try await Self.run(world, orders, expectedReason: "参数格式校验错误")
    }

    /// v3, a direct and a partner merchant (one sub-merchant): healthy orders due two a second each,
    /// 3 refused with 400 PARAM_ERROR per merchant, plus 500s and 429s at random on any call.
    @Test func v3BadRowsNeverHoldUpEitherMerchant() async throws {
        let world = try await EndToEndWorld.start()
        let directory = world.directory.path
        let key = FakeV3Keys.merchant
        for (mchID, partner) in [(Self.v3Direct, false), (Self.v3Partner, true)] {
            world.fake.addV3Merchant(
                FakeV3Merchant(
                    mchID: mchID, serialNo: Self.serial, publicKey: key.publicKey, verification: .publicKey,
                    isServiceProvider: partner))
        }
        FileManager.default.createFile(
            atPath: "\(directory)/apiclient_key.pem", contents: Data(key.pkcs8PEM.utf8), attributes: [.posixPermissions: 0o600])
        FileManager.default.createFile(
            atPath: "\(directory)/wechatpay_public_key.pem", contents: Data(world.fake.v3Identity.publicKeyPEM.utf8),
            attributes: [.posixPermissions: 0o600])
        let v3Merchant = { (mchID: String) in
            """
            "\(mchID)": { "api": "v3", "appids": ["\(EndToEndWorld.appID)"], "private_key_file": "\(directory)/apiclient_key.pem",
                          "certificate_serial": "\(Self.serial)", "wechatpay_public_key_file": "\(directory)/wechatpay_public_key.pem",
                          "wechatpay_public_key_id": "\(world.fake.v3Identity.publicKeyID)" }
            """
        }
        try Self.writeConfig(world, merchants: v3Merchant(Self.v3Direct) + ",\n" + v3Merchant(Self.v3Partner))
        world.fake.setFaultRate(0.08, faults: [.http500, .frequencyLimited])
        let start = Int64(Date().timeIntervalSince1970) + 3
        var orders: [Order] = []
        for (mchID, sub) in [(Self.v3Direct, nil), (Self.v3Partner, Self.subMchID)] as [(String, String?)] {
            orders += (0..<50).map { index in
                Order(
                    outTradeNo: "GOOD-\(mchID.suffix(3))-\(index)", mchID: mchID, subMchID: sub,
                    createdAt: start + Int64(index / 2 + (index / 2 >= 2 ? 1 : 0)) - 300, bad: false)
            }
            orders += (0..<3).map {
                Order(
                    outTradeNo: "BAD-\(mchID.suffix(3))-\($0)", mchID: mchID, subMchID: sub, createdAt: start + 2 - 300, bad: true
                )
            }
        }
        try await Self.run(world, orders, expectedReason: "PARAM_ERROR")
    }

    static func writeConfig(_ world: EndToEndWorld, merchants: String) throws {
        let config = """
            {
              "database": { "path": "\(world.databasePath)" },
              "wechatpay": { "primary_url": "\(world.server.baseURL)", "failover": false, "connect_timeout_ms": 1000, "total_timeout_ms": 5000 },
              "retry": { "base_delay_ms": 1000, "max_delay_ms": 4000, "max_attempts": \(maxAttempts) },
              "schedule": { "poll_interval_ms": 100, "lease_ms": 15000, "margin_seconds": 0 },
              "throughput": { "concurrency": 8, "batch_size": 4 },
              "shutdown": { "grace_ms": 6000 },
              "log": { "format": "json", "level": "debug" },
              "merchants": {
                \(merchants)
              }
            }
            """
        FileManager.default.createFile(
            atPath: world.configPath, contents: Data(config.utf8), attributes: [.posixPermissions: 0o600])
    }

    /// Starts the daemon, inserts `orders` as the app would (each falls due a few seconds later),
    /// waits until every one is decided, and checks the three promises.
    ///
    /// The orders were planned around a start 3 s ahead of when the test began; they are moved so
    /// that start is 3 s after the daemon said READY=1. Migrating and starting take seconds on a
    /// loaded machine, and the bound judges the daemon's lag, not its start-up.
    static func run(_ world: EndToEndWorld, _ planned: [Order], expectedReason: String) async throws {
        let migrate = try await EndToEndWorld.runCLI(["migrate", "--config", world.configPath])
        #expect(migrate.status == 0, "\(migrate.output)")
        let merchant = try world.merchantDatabase()
        let (daemon, notify) = try await world.startDaemon()
        let plannedStart = (planned.map(\.createdAt).min() ?? 0) + 300
        let shift = Int64(Date().timeIntervalSince1970) + 3 - plannedStart
        let orders = planned.map {
            Order(
                outTradeNo: $0.outTradeNo, mchID: $0.mchID, subMchID: $0.subMchID, createdAt: $0.createdAt + max(shift, 0),
                bad: $0.bad)
        }
        for order in orders {
            world.fake.addOrder(mchID: order.mchID, outTradeNo: order.outTradeNo, createdAt: Double(order.createdAt))
            if order.bad {
                // Twice its attempts: a query after a refusal must be refused as well.
                world.fake.script(
                    mchID: order.mchID, outTradeNo: order.outTradeNo, Array(repeating: .paramError, count: 2 * maxAttempts))
            }
        }
        try await merchant.write { db in
            for order in orders {
                try db.execute(
                    sql: """
                        INSERT INTO pending_orders (mch_id, appid, out_trade_no, sub_mch_id, created_at, timeout_seconds) VALUES (?, ?, ?, ?, ?, 0)
                        """, arguments: [order.mchID, EndToEndWorld.appID, order.outTradeNo, order.subMchID, order.createdAt])
            }
        }
        // Unpaused, all are decided within about 30 s; a pause (60 s, then 2 min) would still be on at 90 s.
        let decided = try await eventually(timeout: .seconds(90)) {
            try merchant.read { db in
                try Int.fetchOne(db, sql: "SELECT count(*) FROM pending_orders WHERE status IN ('pending', 'closing')") == 0
            }
        }
        #expect(decided, "orders left undecided after 90 s")
        daemon.signal(SIGTERM)
        #expect(await notify.waitFor("STOPPING=1", timeout: .seconds(60)).found)
        #expect(await daemon.exitStatus() == 0, "\(daemon.log.suffix(3000))")

        let calls = world.fake.calls
        let closes = calls.filter { $0.path == "/pay/closeorder" || $0.path.hasSuffix("/close") }
        var firstSeen: [String: Double] = [:]
        for call in closes {
            guard let number = call.outTradeNo else { continue }
            firstSeen[number] = min(firstSeen[number] ?? .infinity, call.receivedAt)
        }
        let healthy = orders.filter { !$0.bad }
        let lags = healthy.map { (order: $0.outTradeNo, lag: (firstSeen[$0.outTradeNo] ?? .infinity) - $0.due) }
        let late = lags.filter { $0.lag > sendBound }
        let worst = lags.map(\.lag).max() ?? 0
        #expect(
            late.isEmpty,
            "\(late.count) of \(healthy.count) healthy orders sent more than \(sendBound) s after their due time (worst \(worst) s): \(late.prefix(5))"
        )
        #expect(world.fake.violations.isEmpty, "early closes: \(world.fake.violations)")

        let rows = try await merchant.read { db in
            try Row.fetchAll(db, sql: "SELECT out_trade_no, status, attempts, last_error, finished_ms FROM pending_orders")
        }
        let byNumber = Dictionary(uniqueKeysWithValues: rows.map { ($0["out_trade_no"] as String, $0) })
        for order in orders {
            let row = try #require(byNumber[order.outTradeNo])
            guard decided else { break }
            if order.bad {
                #expect(row["status"] as String == "failed", "\(order.outTradeNo): \(row)")
                #expect(row["attempts"] as Int == maxAttempts, "\(order.outTradeNo): \(row)")
                let reason = row["last_error"] as String? ?? ""
                #expect(
                    reason.contains("gave up after \(maxAttempts) attempts") && reason.contains(expectedReason),
                    "\(order.outTradeNo): \(reason)")
                // 1 + 2 + 4 + 4 s of backoff (±20 %): well under the first pause's 60 s.
                let took = Double(row["finished_ms"] as Int64? ?? .max) / 1000 - order.due
                #expect(took < 30, "\(order.outTradeNo) took \(took) s to fail")
            } else {
                #expect(row["status"] as String == "closed", "\(order.outTradeNo): \(row)")
            }
        }
        let log = daemon.log
        #expect(
            !log.contains("paused until"),
            "a merchant was paused: \(log.split(separator: "\n").filter { $0.contains("paused until") }.prefix(3))")
        // The refusals looked merchant-wide at least once: a query for a made-up order settled it.
        let probes = calls.filter {
            !(($0.outTradeNo ?? "").hasPrefix("GOOD-") || ($0.outTradeNo ?? "").hasPrefix("BAD-"))
                && $0.path != "/v3/certificates"
        }
        #expect(
            !probes.isEmpty && probes.allSatisfy { !$0.path.hasSuffix("close") && !$0.acted },
            "probes: \(probes.map { "\($0.path) \($0.answer)" })")
        print(
            "bad rows: \(healthy.count) healthy orders, worst lag \(String(format: "%.2f", worst)) s, \(probes.count) probe(s): \(probes.map(\.answer))"
        )
        try await world.shutdown()
    }
}
