import FakeWeChatPay
import Foundation
import GRDB
import Testing

/// R4: the database misbehaves under a running (or starting) daemon. It stays up or exits with a
/// clear message, never corrupts or loses a row, and resumes when the fault clears.
@Suite(.serialized) struct DatabaseFaultTests {
    static let isRoot = getuid() == 0

    static func sh(_ command: String) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }

    static func insertDue(_ count: Int, into pool: DatabasePool, world: EndToEndWorld, dueIn seconds: Int64, prefix: String)
        throws
    {
        let createdAt = Int64(Date().timeIntervalSince1970) - 300 + seconds
        try pool.write { db in
            for index in 0..<count {
                try db.execute(
                    sql:
                        "INSERT INTO pending_orders (mch_id, appid, out_trade_no, created_at, timeout_seconds) VALUES (?, ?, ?, ?, 0)",
                    arguments: [EndToEndWorld.mchA, EndToEndWorld.appID, "\(prefix)-\(index)", createdAt])
            }
        }
        for index in 0..<count {
            world.fake.addOrder(mchID: EndToEndWorld.mchA, outTradeNo: "\(prefix)-\(index)", createdAt: Double(createdAt))
        }
    }

    static func allClosed(_ pool: DatabasePool) throws -> Bool {
        try pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM pending_orders WHERE status <> 'closed'") == 0 }
    }

    /// The lock is taken while the daemon has calls in flight (the fake holds their answers), so
    /// their outcomes and the next claims can only be written through it. Before, the orders fell
    /// due on the wall clock 0–1 s after the insert and the lock was taken after READY=1: a slow
    /// start closed them all first, and the test failed saying the lock never got in the way.
    @Test func anotherProcessHoldingTheWriteLock() async throws {
        var settings = EndToEndWorld.Settings()
        settings.busyTimeoutMs = 1_000
        settings.leaseMs = 120_000  // its own leases outlast the lock, so no rescue blurs the check
        let world = try await EndToEndWorld.start(settings)
        #expect(try await EndToEndWorld.runCLI(["migrate", "--config", world.configPath]).status == 0)
        let merchant = try world.merchantDatabase()
        world.fake.holdAnswers()
        try Self.insertDue(20, into: merchant, world: world, dueIn: 0, prefix: "LOCK")
        let (daemon, _) = try await world.startDaemon()
        try await waitUntil("the daemon's first call to reach the fake", detail: String(daemon.log.suffix(1500))) {
            !world.fake.calls.isEmpty
        }

        // Another process (here, this one) takes the write lock, then lets the answers go.
        var holding = Configuration()
        holding.busyMode = .timeout(30)  // wait for the daemon's own short transactions, then hold
        holding.allowsUnsafeTransactions = true  // the transaction spans two accesses, with waits between
        let holder = try DatabaseQueue(path: world.databasePath, configuration: holding)
        try await holder.writeWithoutTransaction { db in try db.execute(sql: "BEGIN IMMEDIATE") }
        world.fake.releaseAnswers()
        try await waitUntil(
            "the lock to get in the daemon's way (\"database error\" in its log)", detail: String(daemon.log.suffix(1500))
        ) {
            daemon.log.contains("database error")
        }
        // The fault itself: the lock stays held this long (nothing waits for it to pass).
        try await Task.sleep(for: .seconds(ReliabilityScale.lockSeconds))
        #expect(daemon.process.isRunning, "the daemon died while the lock was held")
        let closedUnderLock = try await merchant.read { db in
            try Int.fetchOne(db, sql: "SELECT count(*) FROM pending_orders WHERE status = 'closed'")
        }
        #expect(closedUnderLock == 0, "an outcome was written through another process's lock")
        try await holder.writeWithoutTransaction { db in try db.execute(sql: "COMMIT") }

        #expect(try await eventually(timeout: .seconds(60)) { try Self.allClosed(merchant) }, "\(daemon.log.suffix(1500))")
        daemon.signal(SIGTERM)
        #expect(await daemon.exitStatus() == 0, "\(daemon.log.suffix(3000))")
        #expect(daemon.log.contains("database usable again"))
        try await world.shutdown()
    }

    @Test(.enabled(if: isRoot, "needs root to mount a small filesystem"))
    func aFullDisk() async throws {
        let mountPoint = FileManager.default.temporaryDirectory.appendingPathComponent(
            "closeorderd-full-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: mountPoint, withIntermediateDirectories: true)
        #expect(try Self.sh("mount -t tmpfs -o size=6m tmpfs '\(mountPoint.path)'") == 0)
        // Lazy: this process still has the daemon's log and the notify socket open on it until the
        // test's locals go, after this runs; a plain umount failed (busy) and leaked the mount.
        defer { _ = try? Self.sh("umount -l '\(mountPoint.path)'; rmdir '\(mountPoint.path)'") }
        var settings = EndToEndWorld.Settings()
        settings.directory = mountPoint
        settings.logLevel = "info"
        let world = try await EndToEndWorld.start(settings)
        #expect(try await EndToEndWorld.runCLI(["migrate", "--config", world.configPath]).status == 0)
        let merchant = try world.merchantDatabase()
        // Calls are in flight (their answers held) when the disk fills, so their outcomes meet it.
        // Before, the orders fell due 2 s after the insert on the wall clock, racing the fill.
        world.fake.holdAnswers()
        try Self.insertDue(2_000, into: merchant, world: world, dueIn: 0, prefix: "FULL")
        let (daemon, _) = try await world.startDaemon()
        try await waitUntil("the daemon's first call to reach the fake", detail: String(daemon.log.suffix(1500))) {
            !world.fake.calls.isEmpty
        }
        // Fill the filesystem to the last byte, then let the answers go.
        _ = try Self.sh("dd if=/dev/zero of='\(mountPoint.path)/filler' bs=64k 2>/dev/null")
        world.fake.releaseAnswers()
        try await Task.sleep(for: .seconds(2))  // the fault itself: the disk stays full this long (nothing waits for it)
        #expect(daemon.process.isRunning, "the daemon died on a full disk")
        _ = try Self.sh("rm -f '\(mountPoint.path)/filler'")
        #expect(try await eventually(timeout: .seconds(60)) { try Self.allClosed(merchant) }, "\(daemon.log.suffix(1500))")
        daemon.signal(SIGTERM)
        #expect(await daemon.exitStatus() == 0, "\(daemon.log.suffix(3000))")
        let integrity = try await merchant.read { db in try String.fetchOne(db, sql: "PRAGMA integrity_check") }
        #expect(integrity == "ok")
        let count = try await merchant.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM pending_orders") }
        #expect(count == 2_000)
        print(
            "R4 disk full: daemon log has \(daemon.log.components(separatedBy: "database error").count - 1) database error line(s)"
        )
        try await world.shutdown(removing: false)
    }

    @Test(.enabled(if: isRoot, "needs root to remount a filesystem read-only"))
    func aReadOnlyDatabaseRefusesToStartThenRecovers() async throws {
        let mountPoint = FileManager.default.temporaryDirectory.appendingPathComponent(
            "closeorderd-ro-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: mountPoint, withIntermediateDirectories: true)
        #expect(try Self.sh("mount -t tmpfs -o size=8m tmpfs '\(mountPoint.path)'") == 0)
        // Lazy: this process still has the daemon's log and the notify socket open on it until the
        // test's locals go, after this runs; a plain umount failed (busy) and leaked the mount.
        defer { _ = try? Self.sh("umount -l '\(mountPoint.path)'; rmdir '\(mountPoint.path)'") }
        var settings = EndToEndWorld.Settings()
        settings.directory = mountPoint
        let world = try await EndToEndWorld.start(settings)
        #expect(try await EndToEndWorld.runCLI(["migrate", "--config", world.configPath]).status == 0)
        try Self.insertDue(5, into: try world.merchantDatabase(), world: world, dueIn: 0, prefix: "RO")

        #expect(try Self.sh("mount -o remount,ro '\(mountPoint.path)'") == 0)
        let refused = try await EndToEndWorld.runCLI(["run", "--config", world.configPath])
        #expect(refused.status == 1)
        #expect(refused.output.contains(world.databasePath), "\(refused.output)")
        #expect(try Self.sh("mount -o remount,rw '\(mountPoint.path)'") == 0)

        let (daemon, _) = try await world.startDaemon()
        let merchant = try world.merchantDatabase()
        #expect(try await eventually(timeout: .seconds(30)) { try Self.allClosed(merchant) })
        daemon.signal(SIGTERM)
        #expect(await daemon.exitStatus() == 0, "\(daemon.log.suffix(3000))")
        try await world.shutdown(removing: false)
    }

    @Test func aMissingDatabaseFolderIsNamed() async throws {
        var settings = EndToEndWorld.Settings()
        settings.directory = nil
        let world = try await EndToEndWorld.start(settings)
        let config = try String(contentsOfFile: world.configPath, encoding: .utf8)
            .replacingOccurrences(of: world.databasePath, with: "/nonexistent-closeorderd/orders.sqlite")
        try config.write(toFile: world.configPath, atomically: true, encoding: .utf8)
        let result = try await EndToEndWorld.runCLI(["run", "--config", world.configPath])
        #expect(result.status == 1)
        #expect(result.output.contains("/nonexistent-closeorderd/orders.sqlite"), "\(result.output)")
        try await world.shutdown()
    }

    @Test func aNewerSchemaIsRefused() async throws {
        let world = try await EndToEndWorld.start()
        #expect(try await EndToEndWorld.runCLI(["migrate", "--config", world.configPath]).status == 0)
        try await world.merchantDatabase().write { db in
            try db.execute(
                sql: "INSERT INTO schema_migrations (version, name, applied_ms) VALUES (99, '0099_from_the_future', 0)")
        }
        let result = try await EndToEndWorld.runCLI(["run", "--config", world.configPath])
        #expect(result.status == 1)
        #expect(result.output.contains("newer than this closeorderd knows"), "\(result.output)")
        let migrate = try await EndToEndWorld.runCLI(["migrate", "--config", world.configPath])
        #expect(migrate.status == 1 && migrate.output.contains("newer"))
        try await world.shutdown()
    }
}
