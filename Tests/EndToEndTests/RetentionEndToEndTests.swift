import FakeWeChatPay
import Foundation
import GRDB
import Testing

/// Retention with the real binary on a real WAL file (issue 13): the daemon deletes finished
/// orders older than `retention.keep_days` with their attempts, and gives the space back, while it
/// still closes what is due; `closeorderd prune` does the same by hand, with a dry run first.
@Suite(.serialized) struct RetentionEndToEndTests {
    static let day: Int64 = 86_400

    /// Finished rows as the daemon (or, for `paid`, the merchant) leaves them, back-dated by
    /// `finishedDaysAgo` days, each closed one with two attempts. (GRDB's async write: off the
    /// cooperative pool, which the other suites' tasks share.)
    static func backDated(
        _ merchant: DatabasePool, prefix: String, closed: Int, failed: Int, paid: Int,
        finishedDaysAgo: Double, now: Int64
    ) async throws {
        let finishedMs = (now - Int64(finishedDaysAgo * Double(day))) * 1000
        let createdAt = now - Int64(finishedDaysAgo * Double(day)) - 600
        try await merchant.write { db in
            func insert(_ name: String, status: String) throws -> Int64 {
                try db.execute(
                    sql:
                        "INSERT INTO pending_orders (mch_id, appid, out_trade_no, created_at, timeout_seconds) VALUES (?, ?, ?, ?, 0)",
                    arguments: [EndToEndWorld.mchA, EndToEndWorld.appID, name, createdAt])
                let id = db.lastInsertedRowID
                if status == "paid" {
                    // Since schema 8 the app's paid is stamped with its time (the outcome feed): back-dated here.
                    try db.execute(
                        sql: "UPDATE pending_orders SET status = 'paid', finished_ms = ? WHERE id = ?",
                        arguments: [finishedMs, id])
                } else {
                    try db.execute(
                        sql: "UPDATE pending_orders SET status = ?, outcome = ?, attempts = 2, finished_ms = ? WHERE id = ?",
                        arguments: [status, status == "closed" ? "closed" : nil, finishedMs, id])
                    for attempt in 1...2 {
                        try db.execute(
                            sql: """
                                INSERT INTO close_attempts (order_id, mch_id, out_trade_no, attempt, operation, started_ms, finished_ms, outcome)
                                VALUES (?, ?, ?, ?, 'closeorder', ?, ?, ?)
                                """,
                            arguments: [
                                id, EndToEndWorld.mchA, name, attempt, finishedMs - 100, finishedMs,
                                status == "closed" ? "closed" : "retry",
                            ])
                    }
                }
                return id
            }
            for index in 0..<closed { _ = try insert("\(prefix)-C\(index)", status: "closed") }
            for index in 0..<failed { _ = try insert("\(prefix)-F\(index)", status: "failed") }
            for index in 0..<paid { _ = try insert("\(prefix)-P\(index)", status: "paid") }
        }
    }

    static func count(_ pool: DatabasePool, _ sql: String) throws -> Int {
        try pool.read { db in try Int.fetchOne(db, sql: sql) ?? -1 }
    }

    @Test func theDaemonPrunesOldFinishedOrdersWhileItClosesWhatIsDueAndPruneDoesItByHand() async throws {
        var settings = EndToEndWorld.Settings()
        settings.keepDays = 1
        let world = try await EndToEndWorld.start(settings)
        let migrate = try await EndToEndWorld.runCLI(["migrate", "--config", world.configPath])
        #expect(migrate.status == 0, "\(migrate.output)")
        let merchant = try world.merchantDatabase()
        let now = Int64(Date().timeIntervalSince1970)
        // 700 old finished orders (three batches), finished two days ago; 3 finished an hour ago.
        try await Self.backDated(merchant, prefix: "OLD", closed: 650, failed: 30, paid: 20, finishedDaysAgo: 2, now: now)
        try await Self.backDated(merchant, prefix: "RECENT", closed: 3, failed: 0, paid: 0, finishedDaysAgo: 1.0 / 24, now: now)
        // Undecided orders of any age stay: one due now (the daemon closes it), one placed three days
        // ago with a week's timeout (not due yet).
        try await merchant.write { db in
            try db.execute(
                sql:
                    "INSERT INTO pending_orders (mch_id, appid, out_trade_no, created_at, timeout_seconds) VALUES (?, ?, 'DUE-NOW', ?, 0)",
                arguments: [EndToEndWorld.mchA, EndToEndWorld.appID, now - 400])
            try db.execute(
                sql:
                    "INSERT INTO pending_orders (mch_id, appid, out_trade_no, created_at, timeout_seconds) VALUES (?, ?, 'OLD-WAITING', ?, ?)",
                arguments: [EndToEndWorld.mchA, EndToEndWorld.appID, now - 3 * Self.day, 7 * Self.day])
        }
        world.fake.addOrder(mchID: EndToEndWorld.mchA, outTradeNo: "DUE-NOW", createdAt: Double(now - 400), state: .notPay)

        let (daemon, _) = try await world.startDaemon()
        try await waitUntil("the daemon's retention round", detail: daemon.log.suffix(3000).description) {
            daemon.log.contains("retention: deleted")
        }
        #expect(
            try Self.count(
                merchant, "SELECT count(*) FROM pending_orders WHERE out_trade_no LIKE 'OLD-%' AND out_trade_no != 'OLD-WAITING'")
                == 0)
        #expect(
            try Self.count(merchant, "SELECT count(*) FROM close_attempts WHERE out_trade_no LIKE 'OLD-%'") == 0,
            "attempts go with their order")
        #expect(
            try Self.count(merchant, "SELECT count(*) FROM pending_orders WHERE out_trade_no LIKE 'RECENT-%'") == 3,
            "younger than keep_days")
        #expect(try Self.count(merchant, "SELECT count(*) FROM close_attempts WHERE out_trade_no LIKE 'RECENT-%'") == 6)
        #expect(
            try Self.count(merchant, "SELECT count(*) FROM pending_orders WHERE out_trade_no = 'DUE-NOW' AND status = 'closed'")
                == 1,
            "the due order was closed, not pruned")
        #expect(
            try Self.count(
                merchant, "SELECT count(*) FROM pending_orders WHERE out_trade_no = 'OLD-WAITING' AND status = 'pending'") == 1)
        // One journal line for the round, with the counts by status; the pages are given back.
        let lines = daemon.log.split(separator: "\n").filter { $0.contains("retention: deleted") }
        #expect(lines.count == 1, "\(lines)")
        #expect(lines.first?.contains("deleted 700 finished order(s) (650 closed, 20 paid, 30 failed)") == true, "\(lines)")
        #expect(lines.first?.contains("with their 1360 attempt(s), in 3 batch(es)") == true, "\(lines)")
        #expect(try Self.count(merchant, "PRAGMA auto_vacuum") == 2)
        try await waitUntil("the freed pages to be given back", detail: daemon.log.suffix(2000).description) {
            try Self.count(merchant, "PRAGMA freelist_count") == 0
        }

        // By hand, while the daemon runs: a dry run counts, changes nothing; then it deletes.
        try await Self.backDated(merchant, prefix: "HAND", closed: 3, failed: 1, paid: 1, finishedDaysAgo: 1.5, now: now)
        let dryRun = try await EndToEndWorld.runCLI(["prune", "--older-than", "1", "--dry-run", "--config", world.configPath])
        #expect(dryRun.status == 0, "\(dryRun.output)")
        #expect(dryRun.output.contains("prune: would delete 5 order(s) finished before"), "\(dryRun.output)")
        #expect(dryRun.output.contains("3 closed, 1 paid, 1 failed; 8 attempt(s)"), "\(dryRun.output)")
        #expect(
            try Self.count(merchant, "SELECT count(*) FROM pending_orders WHERE out_trade_no LIKE 'HAND-%'") == 5,
            "a dry run deletes nothing")
        let longer = try await EndToEndWorld.runCLI(["prune", "--older-than", "2", "--config", world.configPath])
        #expect(longer.status == 0 && longer.output.contains("deleted 0 order(s)"), "\(longer.output)")
        let pruned = try await EndToEndWorld.runCLI(["prune", "--older-than", "1", "--config", world.configPath])
        #expect(pruned.status == 0, "\(pruned.output)")
        #expect(pruned.output.contains("prune: deleted 5 order(s) finished before"), "\(pruned.output)")
        #expect(pruned.output.contains("3 closed, 1 paid, 1 failed; 8 attempt(s), in 1 batch(es)"), "\(pruned.output)")
        #expect(try Self.count(merchant, "SELECT count(*) FROM pending_orders WHERE out_trade_no LIKE 'HAND-%'") == 0)
        #expect(try Self.count(merchant, "SELECT count(*) FROM close_attempts WHERE out_trade_no LIKE 'HAND-%'") == 0)
        #expect(try Self.count(merchant, "SELECT count(*) FROM pending_orders WHERE out_trade_no LIKE 'RECENT-%'") == 3)

        daemon.signal(SIGTERM)
        #expect(await daemon.exitStatus() == 0)
        try await world.shutdown()
    }

    @Test func pruneRefusesWhatItCannotDoInWords() async throws {
        let folder = try CLIHarness.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let database = folder.appendingPathComponent("orders.sqlite").path
        let zero = try await CLIHarness.run(["prune", "--older-than", "0", "--database", database])
        #expect(
            zero.status != 0 && zero.output.contains("--older-than must be a whole number of days, at least 1 (got 0)"),
            "\(zero.output)")
        let words = try await CLIHarness.run(["prune", "--older-than", "a week", "--database", database])
        #expect(words.status != 0 && words.output.contains("older-than"), "\(words.output)")
        let nothing = try await CLIHarness.run(["prune", "--database", database])
        #expect(nothing.status != 0 && nothing.output.contains("give --older-than DAYS"), "\(nothing.output)")
        let missing = try await CLIHarness.run(["prune", "--older-than", "30", "--database", database])
        #expect(missing.status == 1 && missing.output.contains("no database at \(database)"), "\(missing.output)")
    }
}
