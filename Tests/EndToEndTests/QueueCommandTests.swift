import Foundation
import GRDB
import Testing

/// The queue tool's commands through the real binary (issue 12): list, retry-now, abandon,
/// requeue --dry-run, pause / resume, status --check.
@Suite struct QueueCommandTests {
    static let mch = "1900000109"

    /// A migrated database with: OVERDUE (pending, long past due), LATER (pending, due in an hour),
    /// GAVE-UP (failed a minute ago), DONE (closed).
    static func world() async throws -> (folder: URL, path: String, pool: DatabasePool) {
        let folder = try CLIHarness.folder()
        let (path, pool) = try await CLIDatabaseTests.migratedDatabase(in: folder)
        let now = Int64(Date().timeIntervalSince1970)
        try await pool.write { db in
            for (name, createdAt) in [
                ("OVERDUE", now - 3_600), ("LATER", now + 3_600), ("GAVE-UP", now - 7_200), ("DONE", now - 7_200),
            ] {
                try db.execute(
                    sql:
                        "INSERT INTO pending_orders (mch_id, appid, out_trade_no, created_at, timeout_seconds) VALUES (?, 'wx1', ?, ?, 0)",
                    arguments: [mch, name, createdAt])
            }
            try db.execute(
                sql:
                    "UPDATE pending_orders SET status = 'failed', finished_ms = ?, last_error = 'gave up after 10 attempts' WHERE out_trade_no = 'GAVE-UP'",
                arguments: [(now - 60) * 1000])
            try db.execute(sql: "UPDATE pending_orders SET status = 'closed', outcome = 'closed' WHERE out_trade_no = 'DONE'")
        }
        return (folder, path, pool)
    }

    static func status(_ pool: DatabasePool, _ name: String) async throws -> (String, String?) {
        try await pool.read { db in
            let row = try Row.fetchOne(
                db, sql: "SELECT status, last_error FROM pending_orders WHERE out_trade_no = ?", arguments: [name])!
            return (row["status"], row["last_error"])
        }
    }

    @Test func listFiltersByStatusAndOverdue() async throws {
        let (folder, path, _) = try await Self.world()
        defer { try? FileManager.default.removeItem(at: folder) }
        let pending = try await CLIHarness.run(["list", "--database", path, "--status", "pending", "--json"])
        #expect(pending.status == 0, "\(pending.output)")
        let lines = try JSONSerialization.jsonObject(with: Data(pending.output.utf8)) as? [[String: Any]] ?? []
        #expect(Set(lines.compactMap { $0["out_trade_no"] as? String }) == ["OVERDUE", "LATER"])
        #expect(lines.allSatisfy { ($0["due_at"] as? String)?.hasSuffix("Z") == true })

        let overdue = try await CLIHarness.run(["list", "--database", path, "--overdue"])
        #expect(overdue.status == 0)
        #expect(
            overdue.output.contains("OVERDUE") && !overdue.output.contains("LATER") && !overdue.output.contains("GAVE-UP"),
            "\(overdue.output)")
        #expect(overdue.output.contains("MCH_ID"), "a table with a header")

        let wrong = try await CLIHarness.run(["list", "--database", path, "--status", "sleeping"])
        #expect(wrong.status == 64 && wrong.output.contains("sleeping") && wrong.output.contains("pending"), "\(wrong.output)")
    }

    @Test func retryNowAbandonAndRequeueSayWhatTheyDidAndWhy() async throws {
        let (folder, path, pool) = try await Self.world()
        defer { try? FileManager.default.removeItem(at: folder) }

        let retry = try await CLIHarness.run(["retry-now", "LATER", "GAVE-UP", "--database", path])
        #expect(retry.status == 0, "\(retry.output)")
        #expect(retry.output.contains("1 order(s) were made due now"))
        #expect(retry.output.contains("GAVE-UP (mch_id 1900000109): skipped, it is failed, not pending"), "\(retry.output)")
        #expect(try await Self.status(pool, "LATER").1?.contains("retried now by an operator") == true)

        let dry = try await CLIHarness.run([
            "abandon", "OVERDUE", "--reason", "customer cancelled by phone", "--dry-run", "--database", path,
        ])
        #expect(dry.status == 0 && dry.output.contains("1 order(s) would be abandoned"), "\(dry.output)")
        #expect(try await Self.status(pool, "OVERDUE").0 == "pending", "a dry run changed the row")
        let abandon = try await CLIHarness.run([
            "abandon", "OVERDUE", "--reason", "customer cancelled by phone", "--database", path,
        ])
        #expect(abandon.status == 0, "\(abandon.output)")
        let (status, lastError) = try await Self.status(pool, "OVERDUE")
        #expect(status == "failed" && lastError == "abandoned by an operator: customer cancelled by phone")

        let requeueDry = try await CLIHarness.run(["requeue", "GAVE-UP", "--dry-run", "--database", path])
        #expect(requeueDry.status == 0 && requeueDry.output.contains("would be moved back"), "\(requeueDry.output)")
        #expect(try await Self.status(pool, "GAVE-UP").0 == "failed")

        let nothing = try await CLIHarness.run(["retry-now", "DONE", "--database", path])
        #expect(nothing.status == 1 && nothing.output.contains("it is closed, not pending"), "\(nothing.output)")
    }

    @Test func pauseShowsInStatusAndCheckExitsForMonitoring() async throws {
        let (folder, path, _) = try await Self.world()
        defer { try? FileManager.default.removeItem(at: folder) }
        let pause = try await CLIHarness.run(["pause", Self.mch, "--reason", "key rotation", "--database", path])
        #expect(pause.status == 0, "\(pause.output)")
        let status = try await CLIHarness.run(["status", "--database", path])
        #expect(status.output.contains("merchant 1900000109 paused by an operator: key rotation"), "\(status.output)")
        #expect(status.output.contains("overdue: 1"), "\(status.output)")
        #expect(status.output.contains("daemons: none running"))

        // No daemon and an order an hour overdue: critical, in one line.
        let check = try await CLIHarness.run(["status", "--check", "--database", path])
        #expect(check.status == 2, "\(check.output)")
        #expect(check.output.hasPrefix("closeorderd CRITICAL: no daemon is running"), "\(check.output)")
        #expect(check.output.contains("merchant paused: 1900000109"))
        #expect(check.output.split(separator: "\n").count == 1)

        #expect(try await CLIHarness.run(["resume", Self.mch, "--database", path]).status == 0)
        let again = try await CLIHarness.run(["resume", Self.mch, "--database", path])
        #expect(again.status == 1 && again.output.contains("was not paused"))
    }

    @Test func statusJSONIsStructuredForScripts() async throws {
        let (folder, path, pool) = try await Self.world()
        defer { try? FileManager.default.removeItem(at: folder) }
        try await pool.write { db in
            try db.execute(
                sql: """
                    INSERT INTO daemon_state (key, value, updated_ms) VALUES
                      ('circuit:1900000109/1230000001', 'open until 2099-11-30T10:00:00.000Z: SIGNERROR: 签名错误', 1796000000000),
                      ('circuit:1900000110', 'paused: key file /etc/closeorderd/keys/b.key does not exist', 1796000000000)
                    """)
        }
        let result = try await CLIHarness.run(["status", "--json", "--database", path])
        #expect(result.status == 0, "\(result.output)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any])
        let circuits = try #require(report["circuits"] as? [String: [String: Any]], "\(result.output)")
        let open = try #require(circuits["1900000109/1230000001"])
        #expect(open["state"] as? String == "open" && open["until"] as? String == "2099-11-30T10:00:00.000Z")
        #expect(open["reason"] as? String == "SIGNERROR: 签名错误")
        #expect(circuits["1900000110"]?["state"] as? String == "paused")
        #expect(report["overdue"] as? Int == 1)
        #expect((report["oldest_overdue"] as? [String: Any])?["out_trade_no"] as? String == "OVERDUE")
        #expect(report["daemons"] is [Any])
    }
}
