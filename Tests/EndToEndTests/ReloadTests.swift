import FakeWeChatPay
import Foundation
import GRDB
import Testing

/// SIGHUP through the real binary (issue 12): it used to kill the daemon (exit 129). Now it reloads
/// the config and keys without dropping calls, and refuses a config that no longer validates.
@Suite(.serialized) struct ReloadTests {
    @Test func sighupReloadsKeysAndRefusesABadConfigWithoutStopping() async throws {
        let world = try await EndToEndWorld.start()
        let (A, B) = (EndToEndWorld.mchA, EndToEndWorld.mchB)
        let keyB = world.directory.appendingPathComponent("\(B).key")
        try FileManager.default.removeItem(at: keyB)  // B cannot be served at start: paused, A is served
        let migrate = try await EndToEndWorld.runCLI(["migrate", "--config", world.configPath])
        #expect(migrate.status == 0, "\(migrate.output)")
        let merchant = try world.merchantDatabase()
        let now = Int64(Date().timeIntervalSince1970)
        for (name, mchID) in [("RELOAD-A", A), ("RELOAD-B", B)] {
            try await merchant.write { db in
                try db.execute(
                    sql:
                        "INSERT INTO pending_orders (mch_id, appid, out_trade_no, created_at, timeout_seconds) VALUES (?, ?, ?, ?, 0)",
                    arguments: [mchID, EndToEndWorld.appID, name, now - 400])
            }
            world.fake.addOrder(mchID: mchID, outTradeNo: name, createdAt: Double(now - 400))
        }
        func status(_ name: String) throws -> String? {
            try merchant.read { db in
                try String.fetchOne(db, sql: "SELECT status FROM pending_orders WHERE out_trade_no = ?", arguments: [name])
            }
        }
        let (daemon, _) = try await world.startDaemon()
        #expect(try await eventually(timeout: .seconds(30)) { try status("RELOAD-A") == "closed" }, "\(daemon.log.suffix(2000))")
        #expect(try status("RELOAD-B") == "pending", "the merchant without a key was served")

        // The key arrives; SIGHUP installs it and B's order is closed.
        _ = FileManager.default.createFile(
            atPath: keyB.path, contents: Data((world.keys[B]! + "\n").utf8), attributes: [.posixPermissions: 0o600])
        daemon.signal(SIGHUP)
        #expect(try await eventually(timeout: .seconds(30)) { try status("RELOAD-B") == "closed" }, "\(daemon.log.suffix(3000))")
        #expect(daemon.log.contains("reloaded: 2 merchant(s) served"), "\(daemon.log.suffix(2000))")

        // A config that no longer validates is refused; the daemon keeps running on the old one.
        let good = try String(contentsOfFile: world.configPath, encoding: .utf8)
        try good.replacingOccurrences(of: "\"total_timeout_ms\"", with: "\"total_timout_ms\"")
            .write(toFile: world.configPath, atomically: true, encoding: .utf8)
        daemon.signal(SIGHUP)
        #expect(
            try await eventually(timeout: .seconds(30)) { daemon.log.contains("reload refused") }, "\(daemon.log.suffix(2000))")
        #expect(daemon.log.contains("total_timout_ms"), "the refusal names the bad key")
        #expect(daemon.process.isRunning, "SIGHUP stopped the daemon")

        daemon.signal(SIGTERM)
        #expect(await daemon.exitStatus() == 0, "\(daemon.log.suffix(2000))")
        try await world.shutdown()
    }
}
