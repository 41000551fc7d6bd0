import FakeWeChatPay
import Foundation
import GRDB
import Testing
import WeChatPayV2

/// Issue 22, items 1 and 9, through the real binary. Debian 12's systemd 252 copies
/// `LoadCredential=` files into `$CREDENTIALS_DIRECTORY` at start and never on reload; the test
/// plays systemd by leaving that copy stale. A key replaced at its source (keys/ beside the config,
/// as the unit's `LoadCredential=keys:/etc/closeorderd/keys`) must be the one used after SIGHUP,
/// and the reload must name every setting it did not apply.
@Suite(.serialized) struct CredentialReloadTests {
    @Test func aKeyReplacedAtItsSourceIsUsedAfterSIGHUPThoughSystemdsCopyIsStale() async throws {
        let world = try await EndToEndWorld.start()
        let A = EndToEndWorld.mchA
        let keys = world.directory.appendingPathComponent("keys")
        let copies = world.directory.appendingPathComponent("credentials")
        try FileManager.default.createDirectory(at: keys, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: copies, withIntermediateDirectories: true)
        let source = keys.appendingPathComponent("\(A).key").path
        let copy = copies.appendingPathComponent("keys_\(A).key").path
        for path in [source, copy] {
            FileManager.default.createFile(
                atPath: path, contents: Data(world.keys[A]!.utf8), attributes: [.posixPermissions: 0o600])
        }
        let original = try String(contentsOfFile: world.configPath, encoding: .utf8)
        let credentialConfig = original.replacingOccurrences(
            of: "\"key_file\": \"\(world.directory.path)/\(A).key\"",
            with: "\"key_credential\": \"keys_\(A).key\"")
        #expect(credentialConfig != original)
        try credentialConfig.write(toFile: world.configPath, atomically: true, encoding: .utf8)

        let migrate = try await EndToEndWorld.runCLI(["migrate", "--config", world.configPath])
        #expect(migrate.status == 0, "\(migrate.output)")
        let merchant = try world.merchantDatabase()
        let now = Int64(Date().timeIntervalSince1970)
        func place(_ name: String) async throws {
            world.fake.addOrder(mchID: A, outTradeNo: name, createdAt: Double(now - 400))
            try await merchant.write { db in
                try db.execute(
                    sql:
                        "INSERT INTO pending_orders (mch_id, appid, out_trade_no, created_at, timeout_seconds) VALUES (?, ?, ?, ?, 0)",
                    arguments: [A, EndToEndWorld.appID, name, now - 400])
            }
        }
        func status(_ name: String) throws -> String? {
            try merchant.read { db in
                try String.fetchOne(db, sql: "SELECT status FROM pending_orders WHERE out_trade_no = ?", arguments: [name])
            }
        }

        let notifyDirectory = world.directory.appendingPathComponent("notify")
        try FileManager.default.createDirectory(at: notifyDirectory, withIntermediateDirectories: true)
        let notify = try NotifySocket(directory: notifyDirectory)
        let daemon = try DaemonProcess(
            arguments: ["run", "--config", world.configPath],
            environment: ["NOTIFY_SOCKET": notify.path, "CREDENTIALS_DIRECTORY": copies.path],
            stderrPath: world.directory.appendingPathComponent("daemon.log").path)
        try daemon.start()
        world.daemons.append(daemon)
        #expect(await notify.waitFor("READY=1", timeout: .seconds(60)).found, "\(daemon.log.suffix(2000))")
        try await place("ROTATE-1")
        #expect(try await eventually(timeout: .seconds(30)) { try status("ROTATE-1") == "closed" }, "\(daemon.log.suffix(2000))")

        // The merchant resets its API key: WeChat Pay knows only the new one, the source file holds
        // it, systemd's copy still holds the old one (as on systemd 252 after a reload). Settings a
        // reload cannot apply change too.
        let rotated = Nonce.make()
        world.fake.setMerchant(FakeMerchant(mchID: A, key: try APIKey(rotated), appIDs: [EndToEndWorld.appID]))
        try Data(rotated.utf8).write(to: URL(fileURLWithPath: source))
        try credentialConfig
            .replacingOccurrences(of: "\"level\": \"debug\"", with: "\"level\": \"info\"")
            .replacingOccurrences(of: "\"enabled\": false", with: "\"enabled\": true")
            .write(toFile: world.configPath, atomically: true, encoding: .utf8)
        daemon.signal(SIGHUP)
        #expect(try await eventually(timeout: .seconds(30)) { daemon.log.contains("reloaded: ") }, "\(daemon.log.suffix(2000))")
        let summary = daemon.log.split(separator: "\n").first { $0.contains("reloaded: ") }.map(String.init) ?? ""
        #expect(summary.contains("changed (key, sign type, appids or rate) \(A)"), "\(summary)")
        #expect(summary.contains("not applied, need a restart: log.level, metrics.enabled"), "\(summary)")

        try await place("ROTATE-2")
        #expect(try await eventually(timeout: .seconds(30)) { try status("ROTATE-2") == "closed" }, "\(daemon.log.suffix(3000))")
        let sent = world.fake.calls.filter { $0.outTradeNo == "ROTATE-2" }
        #expect(
            !sent.isEmpty && sent.allSatisfy(\.signatureValid), "the old key was used after the reload: \(sent.map(\.answer))")

        daemon.signal(SIGTERM)
        #expect(await daemon.exitStatus() == 0, "\(daemon.log.suffix(2000))")
        try await world.shutdown()
    }
}
