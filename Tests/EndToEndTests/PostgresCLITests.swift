import Foundation
import OrderClosingTestSupport
import StoreTestSupport
import Testing

/// The operator commands through the real binary on a PostgreSQL config (a database on the
/// throw-away cluster, `PostgresTestCluster`), with the rows written by psql as the merchant's app
/// and the daemon would write them: status (text, --json, --check), list, show, retry-now,
/// abandon, requeue, pause / resume. The same wording as on SQLite (`QueueCommandTests`).
@Suite(.serialized, .enabled(if: PostgresTestCluster.shouldRun, Comment(rawValue: PostgresTestCluster.missingMessage)))
struct PostgresCLITests {
    static let mch = "1900000109"

    @Test func theOperatorCommandsWorkOnAPostgreSQLQueue() async throws {
        let cluster = try await PostgresTestCluster.offPool { try PostgresTestCluster.shared() }
        let name = try await PostgresTestCluster.offPool { try cluster.createDatabase() }
        defer { cluster.dropDatabase(name) }
        let folder = try CLIHarness.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = "postgresql://\(cluster.user)@127.0.0.1:\(cluster.port)/\(name)?sslmode=disable"
        let config = PostgresConfigTests().config(in: folder, database: "{ \"url\": \"\(url)\" }").path
        func cli(_ arguments: String...) async throws -> (status: Int32, output: String) {
            try await CLIHarness.run(arguments + ["--config", config])
        }
        func psql(_ sql: String) async throws -> String {
            try await PostgresTestCluster.offPool { try cluster.psql(sql, database: name) }.trimmingCharacters(
                in: .whitespacesAndNewlines)
        }

        // Not migrated yet: said, with what to do.
        let early = try await cli("status")
        #expect(early.status == 1 && early.output.contains("run `closeorderd migrate`"), "\(early.output)")
        #expect(try await cli("migrate").status == 0)

        // OVERDUE (pending, an hour past due), LATER (due in an hour), GAVE-UP (failed a minute
        // ago), DONE (closed, with its attempt).
        let now = Int64(Date().timeIntervalSince1970)
        for (order, createdAt) in [
            ("OVERDUE", now - 3_600), ("LATER", now + 3_600), ("GAVE-UP", now - 7_200), ("DONE", now - 7_200),
        ] {
            _ = try await psql(
                """
                INSERT INTO pending_orders (mch_id, appid, out_trade_no, created_at, timeout_seconds)
                VALUES ('\(Self.mch)', 'wx2421b1c4370ec43b', '\(order)', \(createdAt), 0)
                """)
        }
        _ = try await psql(
            """
            UPDATE pending_orders SET status = 'failed', finished_ms = \((now - 60) * 1000), last_error = 'gave up after 10 attempts'
            WHERE out_trade_no = 'GAVE-UP';
            UPDATE pending_orders SET status = 'closed', outcome = 'closed', attempts = 1, finished_ms = \((now - 6_000) * 1000)
            WHERE out_trade_no = 'DONE';
            INSERT INTO close_attempts (order_id, mch_id, out_trade_no, attempt, operation, started_ms, finished_ms, endpoint,
                                        http_status, return_code, result_code, outcome, verified)
            SELECT id, mch_id, out_trade_no, 1, 'closeorder', \((now - 6_001) * 1000), \((now - 6_000) * 1000),
                   'https://api.mch.weixin.qq.com/pay/closeorder', 200, 'SUCCESS', 'SUCCESS', 'closed', 1
            FROM pending_orders WHERE out_trade_no = 'DONE'
            """)

        let status = try await cli("status")
        #expect(status.status == 0, "\(status.output)")
        for line in [
            "pending  2", "closed   1", "failed   1", "overdue: 1 (undecided orders past their own due time)",
            "oldest overdue: OVERDUE (mch_id 1900000109)", "failed in the last 24 h: 1", "merchant circuits: all closed",
            "daemons: none running (no heartbeat row)",
        ] {
            #expect(status.output.contains(line), "\(line)\n\(status.output)")
        }
        let json = try await cli("status", "--json")
        let report = try #require(
            try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any], "\(json.output)")
        #expect(report["overdue"] as? Int == 1 && report["failed_last_day"] as? Int == 1)
        #expect((report["oldest_overdue"] as? [String: Any])?["out_trade_no"] as? String == "OVERDUE")
        #expect((report["counts"] as? [String: Int]) == ["pending": 2, "closing": 0, "closed": 1, "paid": 0, "failed": 1])

        let pending = try await cli("list", "--status", "pending", "--json")
        let lines = try JSONSerialization.jsonObject(with: Data(pending.output.utf8)) as? [[String: Any]] ?? []
        #expect(lines.compactMap { $0["out_trade_no"] as? String } == ["LATER", "OVERDUE"], "\(pending.output)")
        let overdue = try await cli("list", "--overdue")
        #expect(overdue.status == 0 && overdue.output.contains("MCH_ID"), "\(overdue.output)")
        #expect(
            overdue.output.contains("OVERDUE") && !overdue.output.contains("LATER") && !overdue.output.contains("GAVE-UP"),
            "\(overdue.output)")

        let show = try await cli("show", "DONE")
        #expect(show.status == 0, "\(show.output)")
        #expect(show.output.contains("status: closed") && show.output.contains("outcome: closed"), "\(show.output)")
        #expect(show.output.contains("close_attempts (1):\n  attempt=1 operation=closeorder started="), "\(show.output)")
        #expect(
            show.output.contains("duration_ms=1000 endpoint=https://api.mch.weixin.qq.com/pay/closeorder http_status=200"),
            "\(show.output)")
        let nobody = try await cli("show", "NOBODY")
        #expect(nobody.status == 1 && nobody.output.contains("show: no order with out_trade_no NOBODY"), "\(nobody.output)")

        let retry = try await cli("retry-now", "LATER", "GAVE-UP")
        #expect(retry.status == 0 && retry.output.contains("retry-now: 1 order(s) were made due now"), "\(retry.output)")
        #expect(
            retry.output.contains("retry-now: GAVE-UP (mch_id 1900000109): skipped, it is failed, not pending"), "\(retry.output)"
        )
        #expect(
            try await psql("SELECT last_error FROM pending_orders WHERE out_trade_no = 'LATER'")
                == "retried now by an operator; was: no error")

        let dryAbandon = try await cli("abandon", "OVERDUE", "--reason", "customer cancelled by phone", "--dry-run")
        #expect(
            dryAbandon.status == 0 && dryAbandon.output.contains("abandon: 1 order(s) would be abandoned"), "\(dryAbandon.output)"
        )
        #expect(
            try await psql("SELECT status FROM pending_orders WHERE out_trade_no = 'OVERDUE'") == "pending",
            "a dry run changed the row")
        let abandon = try await cli("abandon", "OVERDUE", "--reason", "customer cancelled by phone")
        #expect(abandon.status == 0, "\(abandon.output)")
        #expect(
            try await psql("SELECT status || ' ' || last_error FROM pending_orders WHERE out_trade_no = 'OVERDUE'")
                == "failed abandoned by an operator: customer cancelled by phone")

        let dryRequeue = try await cli("requeue", "GAVE-UP", "--dry-run")
        #expect(
            dryRequeue.status == 0 && dryRequeue.output.contains("requeue: 1 failed order(s) would be moved back to pending"),
            "\(dryRequeue.output)")
        #expect(try await psql("SELECT status FROM pending_orders WHERE out_trade_no = 'GAVE-UP'") == "failed")
        let requeue = try await cli("requeue", "GAVE-UP", "DONE")
        #expect(
            requeue.status == 0 && requeue.output.contains("requeue: 1 failed order(s) moved back to pending"),
            "\(requeue.output)")
        #expect(
            requeue.output.contains("requeue: DONE (mch_id 1900000109): skipped, it is closed, not failed"), "\(requeue.output)")
        #expect(
            try await psql("SELECT status || ' ' || attempts FROM pending_orders WHERE out_trade_no = 'GAVE-UP'") == "pending 0")

        // A pause is seen by status and --check; a daemon's heartbeat row makes it live.
        let pause = try await cli("pause", Self.mch, "--reason", "key rotation")
        #expect(pause.status == 0, "\(pause.output)")
        #expect(try await psql("SELECT value FROM daemon_state WHERE key = 'pause:\(Self.mch)'") == "key rotation")
        #expect(try await cli("status").output.contains("merchant 1900000109 paused by an operator: key rotation"))
        let check = try await cli("status", "--check")
        #expect(check.status == 2 && check.output.hasPrefix("closeorderd CRITICAL: no daemon is running"), "\(check.output)")
        #expect(check.output.contains("merchant paused: 1900000109"), "\(check.output)")
        #expect(try await cli("resume", Self.mch).status == 0)
        let again = try await cli("resume", Self.mch)
        #expect(again.status == 1 && again.output.contains("resume: merchant 1900000109 was not paused"), "\(again.output)")

        _ = try await psql(
            """
            INSERT INTO daemon_state (key, value, updated_ms) VALUES ('daemon:db-host:7:1',
              '{"owner":"db-host:7:1","host":"db-host","pid":7,"bootID":"b","version":"1.0","startedMs":0,"intervalSeconds":5,"lastSeenMs":0}',
              (extract(epoch from now()) * 1000)::bigint)
            """)
        // Live daemon now; the requeued GAVE-UP is pending and two hours past due, OVERDUE failed a moment ago.
        let live = try await cli("status", "--check")
        #expect(live.status == 2 && !live.output.contains("no daemon"), "\(live.output)")
        #expect(live.output.hasPrefix("closeorderd CRITICAL: 1 overdue, the oldest GAVE-UP "), "\(live.output)")
        #expect(live.output.hasSuffix(" s past due; 1 order(s) failed in the last 24 h\n"), "\(live.output)")
        #expect(try await cli("status").output.contains("daemon db-host:7:1 (1.0, pid 7): started "))

        // prune counts and deletes on PostgreSQL too; --vacuum is SQLite's and is refused saying why.
        let prune = try await cli("prune", "--older-than", "1", "--dry-run")
        #expect(prune.status == 0 && prune.output.hasPrefix("prune: would delete 0 order(s) finished before "), "\(prune.output)")
        let vacuum = try await cli("prune", "--vacuum")
        #expect(vacuum.status == 1 && vacuum.output.contains("--vacuum is for SQLite"), "\(vacuum.output)")
    }
}
