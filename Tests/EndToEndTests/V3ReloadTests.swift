import FakeWeChatPay
import Foundation
import GRDB
import Testing
import WeChatPayV3

/// SIGHUP with a v3 merchant, through the real binary: a v3 merchant whose private key is missing
/// at start is paused and served once the key arrives and the daemon reloads; a rotated private key
/// and certificate serial are used from the reload on.
@Suite(.serialized) struct V3ReloadTests {
    @Test func sighupInstallsAndRotatesAV3MerchantsKey() async throws {
        let world = try await EndToEndWorld.start()
        _ = try V3EndToEndTests.addV3Merchant(world, mode: .publicKey)
        let (A, C) = (EndToEndWorld.mchA, V3EndToEndTests.v3MchID)
        let keyPath = world.directory.appendingPathComponent("apiclient_key.pem").path
        try FileManager.default.removeItem(atPath: keyPath)  // C cannot be served at start: paused, A is served
        let migrate = try await EndToEndWorld.runCLI(["migrate", "--config", world.configPath])
        #expect(migrate.status == 0, "\(migrate.output)")
        let merchant = try world.merchantDatabase()
        let now = Int64(Date().timeIntervalSince1970)
        func place(_ name: String, _ mchID: String) async throws {
            world.fake.addOrder(mchID: mchID, outTradeNo: name, createdAt: Double(now - 400))
            try await merchant.write { db in
                try db.execute(
                    sql:
                        "INSERT INTO pending_orders (mch_id, appid, out_trade_no, created_at, timeout_seconds) VALUES (?, ?, ?, ?, 0)",
                    arguments: [mchID, EndToEndWorld.appID, name, now - 400])
            }
        }
        func status(_ name: String) throws -> String? {
            try merchant.read { db in
                try String.fetchOne(db, sql: "SELECT status FROM pending_orders WHERE out_trade_no = ?", arguments: [name])
            }
        }
        func reloads(_ daemon: DaemonProcess) -> Int { daemon.log.components(separatedBy: "reloaded: ").count - 1 }
        try await place("RELOAD-V2-A", A)
        try await place("RELOAD_V3_C1", C)
        let (daemon, _) = try await world.startDaemon()
        #expect(
            try await eventually(timeout: .seconds(30)) { try status("RELOAD-V2-A") == "closed" }, "\(daemon.log.suffix(2000))")
        #expect(try status("RELOAD_V3_C1") == "pending", "the v3 merchant without a key was served")

        // The key arrives; SIGHUP installs it and C's order is closed over API v3.
        FileManager.default.createFile(
            atPath: keyPath, contents: Data(V3EndToEndTests.merchantKey.pkcs8PEM.utf8),
            attributes: [.posixPermissions: 0o600])
        daemon.signal(SIGHUP)
        #expect(
            try await eventually(timeout: .seconds(30)) { try status("RELOAD_V3_C1") == "closed" }, "\(daemon.log.suffix(3000))")
        #expect(daemon.log.contains("reloaded: 2 merchant(s) served"), "\(daemon.log.suffix(2000))")

        // The merchant rotates its API certificate: a new private key and serial at WeChat Pay and in
        // the files. After the reload, a new order is signed with the new key (the fake refuses the old).
        let rotatedSerial = "6A2B3C4D5E6F708192A3B4C5D6E7F80912345678"
        world.fake.addV3Merchant(FakeV3Merchant(mchID: C, serialNo: rotatedSerial, publicKey: FakeV3Keys.stranger.publicKey))
        FileManager.default.createFile(
            atPath: keyPath, contents: Data(FakeV3Keys.stranger.pkcs8PEM.utf8), attributes: [.posixPermissions: 0o600])
        let config = try String(contentsOfFile: world.configPath, encoding: .utf8)
        try config.replacingOccurrences(of: V3EndToEndTests.serial, with: rotatedSerial)
            .write(toFile: world.configPath, atomically: true, encoding: .utf8)
        daemon.signal(SIGHUP)
        #expect(try await eventually(timeout: .seconds(30)) { reloads(daemon) == 2 }, "\(daemon.log.suffix(2000))")
        try await place("RELOAD_V3_C2", C)
        #expect(
            try await eventually(timeout: .seconds(30)) { try status("RELOAD_V3_C2") == "closed" }, "\(daemon.log.suffix(3000))")
        let sent = world.fake.calls.filter { $0.outTradeNo == "RELOAD_V3_C2" }
        #expect(!sent.isEmpty && sent.allSatisfy(\.signatureValid), "\(sent.map(\.answer))")

        daemon.signal(SIGTERM)
        #expect(await daemon.exitStatus() == 0, "\(daemon.log.suffix(2000))")
        try await world.shutdown()
    }
}
