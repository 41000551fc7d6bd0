import FakeWeChatPay
import Foundation
import GRDB
import Testing
import WeChatPayV2

/// SIGHUP switches a merchant from API v3 to API v2 while one of its orders is in flight, through
/// the real binary. The order's calls keep the merchant as it was when the order started (its v3
/// keys); no call is ever signed with a key the merchant did not configure.
@Suite(.serialized) struct APISwitchReloadTests {
    @Test func anOrderInFlightAcrossAV3ToV2SwitchIsNeverSignedWithAKeyTheMerchantDidNotConfigure() async throws {
        let world = try await EndToEndWorld.start()
        _ = try V3EndToEndTests.addV3Merchant(world, mode: .publicKey)
        let C = V3EndToEndTests.v3MchID
        // Long enough that the held close is answered, not timed out, after the reload.
        var config =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: world.configPath))) as! [String: Any]
        var wechatpay = config["wechatpay"] as! [String: Any]
        wechatpay["total_timeout_ms"] = 10_000
        config["wechatpay"] = wechatpay
        var schedule = config["schedule"] as! [String: Any]
        schedule["lease_ms"] = 30_000
        config["schedule"] = schedule
        func write(_ config: [String: Any]) throws {
            try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted]).write(
                to: URL(fileURLWithPath: world.configPath))
        }
        try write(config)
        let migrate = try await EndToEndWorld.runCLI(["migrate", "--config", world.configPath])
        #expect(migrate.status == 0, "\(migrate.output)")
        let merchant = try world.merchantDatabase()
        let now = Int64(Date().timeIntervalSince1970)
        let name = "SWITCH_V3_TO_V2"
        world.fake.addOrder(mchID: C, outTradeNo: name, createdAt: Double(now - 400))
        try await merchant.write { db in
            try db.execute(
                sql:
                    "INSERT INTO pending_orders (mch_id, appid, out_trade_no, created_at, timeout_seconds) VALUES (?, ?, ?, ?, 0)",
                arguments: [C, EndToEndWorld.appID, name, now - 400])
        }
        func status() throws -> String? {
            try merchant.read { db in
                try String.fetchOne(db, sql: "SELECT status FROM pending_orders WHERE out_trade_no = ?", arguments: [name])
            }
        }

        world.fake.holdAnswers()
        let (daemon, _) = try await world.startDaemon()
        await world.fake.waitForCalls(1)  // the v3 close is at WeChat Pay, its answer held

        // The merchant moves to API v2 with a key of its own, and the daemon reloads.
        let v2Key = Nonce.make()
        world.fake.setMerchant(FakeMerchant(mchID: C, key: try APIKey(v2Key), appIDs: [EndToEndWorld.appID]))
        let keyPath = world.directory.appendingPathComponent("\(C).key").path
        _ = FileManager.default.createFile(atPath: keyPath, contents: Data(v2Key.utf8), attributes: [.posixPermissions: 0o600])
        var merchants = config["merchants"] as! [String: Any]
        merchants[C] = ["appids": [EndToEndWorld.appID], "sign_type": "HMAC-SHA256", "key_file": keyPath]
        config["merchants"] = merchants
        try write(config)
        daemon.signal(SIGHUP)
        #expect(try await eventually(timeout: .seconds(30)) { daemon.log.contains("reloaded: ") }, "\(daemon.log.suffix(2000))")
        world.fake.releaseAnswers()

        #expect(try await eventually(timeout: .seconds(30)) { try status() == "closed" }, "\(daemon.log.suffix(3000))")
        let sent = world.fake.calls.filter { $0.outTradeNo == name }
        #expect(sent.count >= 2, "the 204 was not confirmed by a query: \(sent.map(\.path))")
        let described = sent.map { "\($0.path) \($0.answer)" }
        let allSigned = sent.allSatisfy { $0.signatureValid }
        #expect(allSigned, "a call was signed with a key the merchant did not configure: \(described)")

        daemon.signal(SIGTERM)
        #expect(await daemon.exitStatus() == 0, "\(daemon.log.suffix(2000))")
        try await world.shutdown()
    }
}
