import FakeWeChatPay
import Foundation
import GRDB
import Testing
import WeChatPayV2
import WeChatPayV3

/// Issue 14 with the real binary: one v2 and one v3 merchant on the same database against the
/// fake over loopback. Every order ends right, none is closed early, and every close the fake saw
/// (v2 POST /pay/closeorder, v3 POST …/close) is a `close_attempts` row.
@Suite(.serialized) struct V3EndToEndTests {
    static let v3MchID = "1900000300"
    static let serial = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
    /// A fixed test key (generating RSA keys is slow, more so in a debug build).
    static let merchantKey = FakeV3Keys.merchant

    /// Adds the v3 merchant to the world: its key pair (the fake holds the public half), the
    /// WeChat Pay public key file, and a config with the v2 merchant A beside it.
    static func addV3Merchant(
        _ world: EndToEndWorld, mode: FakeV3Merchant.Verification, backupURL: String? = nil,
        concurrency: Int = 8
    ) throws -> MerchantPrivateKey {
        let key = merchantKey
        let apiV3Key = "0123456789abcdef0123456789abcdef"
        world.fake.addV3Merchant(
            FakeV3Merchant(
                mchID: v3MchID, serialNo: serial, publicKey: key.publicKey, verification: mode,
                apiV3Key: try APIv3Key(apiV3Key)))
        let directory = world.directory.path
        func write(_ name: String, _ text: String) {
            FileManager.default.createFile(
                atPath: "\(directory)/\(name)", contents: Data(text.utf8), attributes: [.posixPermissions: 0o600])
        }
        write("apiclient_key.pem", key.pkcs8PEM)
        write("wechatpay_public_key.pem", world.fake.v3Identity.publicKeyPEM)
        write("apiv3.key", apiV3Key + "\n")
        let verification =
            mode == .publicKey
            ? "\"wechatpay_public_key_file\": \"\(directory)/wechatpay_public_key.pem\", \"wechatpay_public_key_id\": \"\(world.fake.v3Identity.publicKeyID)\""
            : "\"apiv3_key_file\": \"\(directory)/apiv3.key\""
        let config = """
            {
              "database": { "path": "\(world.databasePath)" },
              "wechatpay": { "primary_url": "\(world.server.baseURL)", \(backupURL.map { "\"backup_url\": \"\($0)\"" } ?? "\"failover\": false"),
                             "connect_timeout_ms": 1000, "total_timeout_ms": 2000 },
              "retry": { "base_delay_ms": 200, "max_delay_ms": 1000, "max_attempts": 10 },
              "schedule": { "poll_interval_ms": 100, "lease_ms": 8000, "margin_seconds": 0 },
              "throughput": { "concurrency": \(concurrency), "batch_size": \(min(concurrency, 4)) },
              "shutdown": { "grace_ms": 3000 },
              "log": { "format": "json", "level": "debug" },
              "merchants": {
                "\(EndToEndWorld.mchA)": { "appids": ["\(EndToEndWorld.appID)"], "sign_type": "HMAC-SHA256", "key_file": "\(directory)/\(EndToEndWorld.mchA).key" },
                "\(v3MchID)": { "api": "v3", "appids": ["\(EndToEndWorld.appID)"], "private_key_file": "\(directory)/apiclient_key.pem",
                                "certificate_serial": "\(serial)", \(verification) }
              }
            }
            """
        write("config.json", config)
        return key
    }

    struct Expectation {
        let outTradeNo: String
        let mchID: String
        let status: String
        let outcome: String?
    }

    @Test(arguments: [FakeV3Merchant.Verification.publicKey, .platformCertificate])
    func aV2AndAV3MerchantShareTheDatabaseAndEveryOrderEndsRight(_ mode: FakeV3Merchant.Verification) async throws {
        let world = try await EndToEndWorld.start()
        let key = try Self.addV3Merchant(world, mode: mode)
        let check = try await EndToEndWorld.runCLI(["check-config", "--config", world.configPath])
        #expect(check.status == 0, "\(check.output)")
        #expect(check.output.contains("API v3"), "\(check.output)")
        let migrate = try await EndToEndWorld.runCLI(["migrate", "--config", world.configPath])
        #expect(migrate.status == 0, "\(migrate.output)")
        let merchant = try world.merchantDatabase()
        let now = Int64(Date().timeIntervalSince1970)
        let (A, C) = (EndToEndWorld.mchA, Self.v3MchID)

        var expected: [Expectation] = []
        func order(
            _ outTradeNo: String, _ mchID: String, createdAt: Int64, knownToWeChat: FakeOrderState? = .notPay,
            faults: [FakeFault] = [], status: String, outcome: String?
        ) throws {
            try merchant.write { db in
                try db.execute(
                    sql:
                        "INSERT INTO pending_orders (mch_id, appid, out_trade_no, created_at, timeout_seconds) VALUES (?, ?, ?, ?, 0)",
                    arguments: [mchID, EndToEndWorld.appID, outTradeNo, createdAt])
            }
            if let knownToWeChat {
                world.fake.addOrder(mchID: mchID, outTradeNo: outTradeNo, createdAt: Double(createdAt), state: knownToWeChat)
            }
            if !faults.isEmpty { world.fake.script(mchID: mchID, outTradeNo: outTradeNo, faults) }
            expected.append(Expectation(outTradeNo: outTradeNo, mchID: mchID, status: status, outcome: outcome))
        }
        for index in 0..<3 {
            try order("V2-NOW-\(index)", A, createdAt: now - 400, status: "closed", outcome: "closed")
            try order("V3-NOW-\(index)", C, createdAt: now - 400, status: "closed", outcome: "closed")
        }
        // Due 2–3 s from now: the fake flags any close that comes early.
        try order("V3-LATER-0", C, createdAt: now - 300 + 2, status: "closed", outcome: "closed")
        try order("V3-LATER-1", C, createdAt: now - 300 + 3, status: "closed", outcome: "closed")
        try order("V3-PAID", C, createdAt: now - 400, knownToWeChat: .paid, status: "paid", outcome: "paid")
        try order("V3-NOT-AT-WECHAT", C, createdAt: now - 400, knownToWeChat: nil, status: "closed", outcome: "not_exist")
        try order("V3|BAD@ID", C, createdAt: now - 400, knownToWeChat: nil, status: "failed", outcome: nil)
        let faultCases: [(String, [FakeFault], String)] = [
            ("V3-SYSERR", [.systemError, .systemError], "closed"),
            ("V3-HTTP500", [.http500], "closed"),
            ("V3-RESET", [.connectionReset], "closed"),
            ("V3-MALFORMED", [.malformedBody], "closed"),
            ("V3-BADSIGN", [.badResponseSignature], "closed"),  // it acted, its answer was not believed: re-closed, confirmed
            ("V3-STALE", [.staleTimestamp], "closed"),
            ("V3-SERIAL", [.unknownSerial], "closed"),
            ("V3-FORGED-PAID", [.forgedOrderPaid], "closed"),
            // A signed ORDER_CLOSED that is not about this open order (a replay): the query finds it
            // NOTPAY, so it is closed again, and the next query confirms that close (issue 21).
            ("V3-CLOSED", [.orderClosed], "closed"),
        ]
        for (name, faults, outcome) in faultCases {
            try order(name, C, createdAt: now - 400, faults: faults, status: "closed", outcome: outcome)
        }
        // Issue 21's reproduction: a paid order whose close is answered with a validly signed
        // ORDER_CLOSED or ORDER_NOT_EXIST (which name no order) ends paid, by the query.
        try order(
            "V3-PAID-REPLAY-CLOSED", C, createdAt: now - 400, knownToWeChat: .paid, faults: [.orderClosed], status: "paid",
            outcome: "paid")
        try order(
            "V3-PAID-REPLAY-NOTEXIST", C, createdAt: now - 400, knownToWeChat: .paid, faults: [.orderNotExist], status: "paid",
            outcome: "paid")

        let (daemon, notify) = try await world.startDaemon()
        let decided = try await eventually(timeout: .seconds(120)) {
            try merchant.read { db in
                try Int.fetchOne(db, sql: "SELECT count(*) FROM pending_orders WHERE status IN ('pending', 'closing')") == 0
            }
        }
        #expect(decided, "orders left undecided; log: \(daemon.log.suffix(3000))")
        daemon.signal(SIGTERM)
        #expect(await notify.waitFor("STOPPING=1", timeout: .seconds(60)).found)
        #expect(await daemon.exitStatus() == 0, "\(daemon.log.suffix(3000))")

        let rows = try await merchant.read { db in try Row.fetchAll(db, sql: "SELECT * FROM pending_orders") }
        for expectation in expected {
            let row = try #require(
                rows.first { $0["out_trade_no"] == expectation.outTradeNo && $0["mch_id"] == expectation.mchID })
            #expect(row["status"] as String == expectation.status, "\(expectation.outTradeNo): \(row)")
            #expect(row["outcome"] as String? == expectation.outcome, "\(expectation.outTradeNo): \(row)")
        }
        for name in ["V3-PAID", "V3-PAID-REPLAY-CLOSED", "V3-PAID-REPLAY-NOTEXIST"] {
            let paid = try #require(rows.first { $0["out_trade_no"] == name })
            #expect(paid["transaction_id"] as String? == world.fake.transactionID(mchID: C, outTradeNo: name), "\(name): \(paid)")
        }
        let bad = try #require(rows.first { $0["out_trade_no"] == "V3|BAD@ID" })
        #expect((bad["last_error"] as String?)?.contains("API v3") == true, "\(bad)")

        // Every close the fake saw is an audit row, order by order, for both APIs (AuditAgreement).
        let audit = try await merchant.read { db in try AuditAgreement.closeRows(db) }
        let calls = world.fake.calls
        let closes = calls.filter { $0.path == "/pay/closeorder" || $0.path.hasSuffix("/close") }
        let seen = Dictionary(grouping: closes, by: { $0.outTradeNo ?? "" }).mapValues(\.count)
        for agreement in AuditAgreement.check(expected.map(\.outTradeNo), audit: audit, seen: seen) {
            #expect(agreement.holds, "\(agreement)")
        }
        #expect(calls.filter { $0.outTradeNo == "V3|BAD@ID" }.isEmpty)
        #expect(calls.contains { $0.path.hasPrefix("/v3/pay/transactions/") })
        #expect(calls.filter { $0.path == "/v3/certificates" }.isEmpty == (mode == .publicKey))
        #expect(world.fake.violations.isEmpty, "early closes: \(world.fake.violations)")
        #expect(calls.allSatisfy { $0.signatureValid })

        // No secret, signature or signing message in the log or the database.
        let log = daemon.log
        #expect(!log.contains("PRIVATE KEY") && !log.contains("0123456789abcdef0123456789abcdef"))
        let pemBody = key.pkcs8PEM.split(separator: "\n").dropFirst().first.map(String.init) ?? "-"
        #expect(!log.contains(pemBody))
        for call in calls where call.path.hasPrefix("/v3/") {
            if let signature = call.sign { #expect(!log.contains(signature)) }
        }
        let dump = try await merchant.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM close_attempts").map { "\($0)" }.joined(separator: "\n")
        }
        #expect(!dump.contains("WECHATPAY2-SHA256-RSA2048") && !dump.contains(pemBody))
        try Self.checkAuditVocabulary(merchant, log: log)
        // A successful v3 close reads as such: the close `closed` (HTTP 204), its query `closed`.
        let success = try await merchant.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT operation, http_status, outcome, error FROM close_attempts
                    WHERE out_trade_no = 'V3-NOW-0' AND mch_id = ? ORDER BY id
                    """, arguments: [C])
        }
        #expect(
            success.map { "\($0["operation"] as String) \($0["http_status"] as Int? ?? 0) \($0["outcome"] as String)" }
                == ["closeorder 204 closed", "orderquery 200 closed"], "\(success)")
        #expect(success.first?["error"] as String? == nil)
        try await world.shutdown()
    }

    /// `close_attempts.outcome` is one closed vocabulary for v2 and v3, close and query (README), the
    /// words go in `error`, and no internal sentinel reaches the database or the log (issue 21).
    static func checkAuditVocabulary(_ merchant: DatabasePool, log: String) throws {
        let vocabulary: Set<String> = [
            "closed", "already_closed", "not_exist", "paid", "not_paid", "paying", "retry",
            "config_error", "order_rejected", "unknown_code",
        ]
        let (outcomes, sentinels, queryErrors) = try merchant.read { db in
            (
                Set(try String.fetchAll(db, sql: "SELECT DISTINCT outcome FROM close_attempts")),
                try Int.fetchOne(
                    db,
                    sql: """
                        SELECT (SELECT count(*) FROM close_attempts WHERE outcome || coalesce(error, '') LIKE '%CLOSE_204%')
                             + (SELECT count(*) FROM pending_orders WHERE coalesce(last_error, '') || coalesce(last_err_code, '') LIKE '%CLOSE_204%')
                        """) ?? -1,
                try String?.fetchAll(
                    db, sql: "SELECT error FROM close_attempts WHERE operation = 'orderquery' AND outcome = 'retry'")
            )
        }
        #expect(outcomes.isSubset(of: vocabulary), "outside the vocabulary: \(outcomes.subtracting(vocabulary))")
        #expect(outcomes.contains("closed") && outcomes.contains("paid"), "\(outcomes)")
        #expect(sentinels == 0, "CLOSE_204 in the database")
        #expect(!log.contains("CLOSE_204"), "CLOSE_204 in the log")
        #expect(queryErrors.allSatisfy { $0?.isEmpty == false }, "a query's retry without its reason in error")
    }

    /// Inserts due v3 orders the fake knows as unpaid.
    static func placeV3Orders(_ world: EndToEndWorld, _ names: [String]) throws -> DatabasePool {
        let merchant = try world.merchantDatabase()
        let createdAt = Int64(Date().timeIntervalSince1970) - 400
        try merchant.write { db in
            for name in names {
                try db.execute(
                    sql:
                        "INSERT INTO pending_orders (mch_id, appid, out_trade_no, created_at, timeout_seconds) VALUES (?, ?, ?, ?, 0)",
                    arguments: [v3MchID, EndToEndWorld.appID, name, createdAt])
            }
        }
        for name in names { world.fake.addOrder(mchID: v3MchID, outTradeNo: name, createdAt: Double(createdAt)) }
        return merchant
    }

    static func undecided(_ merchant: DatabasePool) throws -> Int {
        try merchant.read { db in
            try Int.fetchOne(db, sql: "SELECT count(*) FROM pending_orders WHERE status IN ('pending', 'closing')") ?? -1
        }
    }

    @Test func aV3MerchantFailsOverToTheBackupWhenThePrimaryIsDown() async throws {
        let world = try await EndToEndWorld.start()
        let backup = FakeWeChatPayServer(fake: world.fake)
        try await backup.start()
        _ = try Self.addV3Merchant(world, mode: .platformCertificate, backupURL: backup.baseURL)
        #expect(try await EndToEndWorld.runCLI(["migrate", "--config", world.configPath]).status == 0)
        let merchant = try Self.placeV3Orders(world, (0..<6).map { "V3-FAILOVER-\($0)" })
        try await world.server.setOutage(true)
        let (daemon, _) = try await world.startDaemon()
        try await waitUntil(
            "every v3 order decided via the backup", timeout: .seconds(120), detail: String(daemon.log.suffix(3000))
        ) {
            try Self.undecided(merchant) == 0
        }
        daemon.signal(SIGTERM)
        #expect(await daemon.exitStatus() == 0)
        let rows = try await merchant.read { db in try Row.fetchAll(db, sql: "SELECT status, outcome FROM pending_orders") }
        #expect(rows.allSatisfy { $0["status"] as String == "closed" && $0["outcome"] as String? == "closed" }, "\(rows)")
        let endpoints = try await merchant.read { db in
            try String.fetchAll(db, sql: "SELECT DISTINCT endpoint FROM close_attempts WHERE operation = 'closeorder'")
        }
        #expect(endpoints == [backup.baseURL], "\(endpoints)")
        let posts = world.fake.calls.filter { $0.path.hasSuffix("/close") }.count
        let recorded = try await merchant.read { db in
            try Int.fetchOne(db, sql: "SELECT count(*) FROM close_attempts WHERE operation = 'closeorder'")
        }
        #expect(recorded == posts)
        #expect(world.fake.violations.isEmpty)
        try await backup.shutdown()
        try await world.shutdown()
    }

    /// SIGKILL with v3 closes in flight (the fake holds their answers): the next daemon takes the
    /// dead one's leases back in doubt, closes again, and the query confirms. Every POST but the
    /// killed ones is an audit row; nothing is closed early.
    @Test func aSIGKILLMidRunLosesNoV3Order() async throws {
        let world = try await EndToEndWorld.start()
        // One call at a time: the killed daemon has exactly one close in flight, held by the fake.
        _ = try Self.addV3Merchant(world, mode: .publicKey, concurrency: 1)
        #expect(try await EndToEndWorld.runCLI(["migrate", "--config", world.configPath]).status == 0)
        let names = (0..<8).map { "V3-KILL-\($0)" }
        let merchant = try Self.placeV3Orders(world, names)
        world.fake.holdAnswers()
        let (first, _) = try await world.startDaemon(logName: "daemon-killed.log")
        await world.fake.waitForCalls(1)
        first.signal(SIGKILL)
        #expect(await first.exitStatus(within: .seconds(60), "a SIGKILLed daemon to exit") == SIGKILL)
        let killedInFlight = world.fake.calls.filter { $0.path.hasSuffix("/close") }.count
        world.fake.releaseAnswers()

        let (second, _) = try await world.startDaemon(logName: "daemon-after.log")
        try await waitUntil(
            "every v3 order decided after the SIGKILL", timeout: .seconds(120), detail: String(second.log.suffix(3000))
        ) {
            try Self.undecided(merchant) == 0
        }
        second.signal(SIGTERM)
        #expect(await second.exitStatus() == 0)
        let rows = try await merchant.read { db in
            try Row.fetchAll(db, sql: "SELECT out_trade_no, status, outcome FROM pending_orders")
        }
        #expect(rows.count == names.count && rows.allSatisfy { $0["status"] as String == "closed" }, "\(rows)")
        let posts = world.fake.calls.filter { $0.path.hasSuffix("/close") }.count
        let recorded =
            try await merchant.read { db in
                try Int.fetchOne(db, sql: "SELECT count(*) FROM close_attempts WHERE operation = 'closeorder'")
            } ?? -1
        #expect(
            killedInFlight == 1 && recorded == posts - killedInFlight,
            "\(recorded) recorded, \(posts) POSTs, \(killedInFlight) killed in flight")
        #expect(world.fake.violations.isEmpty)
        try await world.shutdown()
    }

    @Test func checkConfigNamesABadV3Setting() async throws {
        let world = try await EndToEndWorld.start()
        _ = try Self.addV3Merchant(world, mode: .publicKey)
        FileManager.default.createFile(
            atPath: "\(world.directory.path)/apiclient_key.pem", contents: Data("not a key\n".utf8),
            attributes: [.posixPermissions: 0o600])
        let check = try await EndToEndWorld.runCLI(["check-config", "--config", world.configPath])
        #expect(check.status == 1)
        #expect(check.output.contains("merchants.\(Self.v3MchID).private_key_file"), "\(check.output)")
        try await world.shutdown()
    }

    @Test func checkConfigRefusesMixedOrMismatchedV3Settings() async throws {
        let world = try await EndToEndWorld.start()
        let key = try Self.addV3Merchant(world, mode: .publicKey)
        let original = try String(contentsOfFile: world.configPath, encoding: .utf8)
        func check(_ config: String) async throws -> (status: Int32, output: String) {
            FileManager.default.createFile(
                atPath: world.configPath, contents: Data(config.utf8), attributes: [.posixPermissions: 0o600])
            return try await EndToEndWorld.runCLI(["check-config", "--config", world.configPath])
        }
        // Both verification modes at once: accepted for WeChat's switch (issue 21, item 5)…
        let both = try await check(
            original.replacingOccurrences(
                of: "\"certificate_serial\"",
                with: "\"apiv3_key_file\": \"\(world.directory.path)/apiv3.key\", \"certificate_serial\""))
        #expect(both.status == 0 && both.output.contains("and platform certificates, APIv3 key <redacted>"), "\(both.output)")
        // …but half a public key beside the APIv3 key is still named.
        let half = try await check(
            original.replacingOccurrences(
                of: "\"wechatpay_public_key_id\": \"\(world.fake.v3Identity.publicKeyID)\"",
                with: "\"apiv3_key_file\": \"\(world.directory.path)/apiv3.key\""))
        #expect(
            half.status == 1 && half.output.contains("wechatpay_public_key_id: required with wechatpay_public_key_file"),
            "\(half.output)")
        // A v3 key on a v2 merchant.
        let onV2 = try await check(
            original.replacingOccurrences(
                of: "\"sign_type\": \"HMAC-SHA256\",", with: "\"sign_type\": \"HMAC-SHA256\", \"certificate_serial\": \"AB\","))
        #expect(
            onV2.status == 1 && onV2.output.contains("merchants.\(EndToEndWorld.mchA).certificate_serial: an API v3 setting"),
            "\(onV2.output)")
        // certificate_file: the key and serial must be the certificate's.
        let now = Int64(Date().timeIntervalSince1970)
        let certificate = try PlatformCertificate.selfSigned(
            key: key, serial: [0x51, 0x57, 0xF0, 0x9E], commonName: "1900000300",
            notValidBefore: now - 60, notValidAfter: now + 86_400)
        FileManager.default.createFile(atPath: "\(world.directory.path)/apiclient_cert.pem", contents: Data(certificate.utf8))
        let withCertificate = { (serial: String) in
            original.replacingOccurrences(
                of: "\"certificate_serial\": \"\(Self.serial)\"",
                with:
                    "\"certificate_serial\": \"\(serial)\", \"certificate_file\": \"\(world.directory.path)/apiclient_cert.pem\"")
        }
        let matching = try await check(withCertificate("5157F09E"))
        #expect(matching.status == 0, "\(matching.output)")
        let wrongSerial = try await check(withCertificate("5157F09F"))
        #expect(wrongSerial.status == 1 && wrongSerial.output.contains("is not the serial of"), "\(wrongSerial.output)")
        FileManager.default.createFile(
            atPath: "\(world.directory.path)/apiclient_key.pem", contents: Data(world.fake.v3Identity.key.pkcs8PEM.utf8),
            attributes: [.posixPermissions: 0o600])
        let wrongKey = try await check(withCertificate("5157F09E"))
        #expect(wrongKey.status == 1 && wrongKey.output.contains("does not match the certificate"), "\(wrongKey.output)")
        #expect(!wrongKey.output.contains("PRIVATE KEY"))
        try await world.shutdown()
    }

    @Test func checkConfigOnlineProvesAV3MerchantsKey() async throws {
        let world = try await EndToEndWorld.start()
        _ = try Self.addV3Merchant(world, mode: .platformCertificate)
        let check = try await EndToEndWorld.runCLI(["check-config", "--online", "--config", world.configPath])
        #expect(check.status == 0, "\(check.output)")
        #expect(check.output.contains("merchant \(Self.v3MchID): OK"), "\(check.output)")
        try await world.shutdown()
    }
}
