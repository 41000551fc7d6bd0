import Foundation
import GRDB
import Testing

/// `show` and `status`, text and `--json`, pinned byte for byte on a database whose every column
/// is set (issue 23 points 4 and 6: the typed order detail and status report must print what the
/// column-keyed ones did). Only what depends on the wall clock is masked: relative times
/// ("3 days ago") and the JSON's `overdue_seconds` / `last_seen_seconds_ago`.
@Suite struct OperatorOutputTests {
    /// SAME twice: 1900000109's row with every column set and two attempts (one with every
    /// column, one with none of the optional ones); 1900000110's row as the merchant inserted it.
    /// DONE failed an hour ago (counted in the last 24 h). daemon_state: a current JSON circuit,
    /// a paused circuit as older daemons wrote it, a pause, a stale daemon, heartbeat and endpoint.
    static func world() async throws -> (folder: URL, path: String) {
        let folder = try CLIHarness.folder()
        let (path, pool) = try await CLIDatabaseTests.migratedDatabase(in: folder)
        let hourAgo = (Int64(Date().timeIntervalSince1970) - 3_600) * 1000
        try await pool.write { db in
            try db.execute(
                sql: """
                    INSERT INTO pending_orders (mch_id, appid, out_trade_no, sub_mch_id, sub_appid, created_at, timeout_seconds)
                    VALUES ('1900000109', 'wx2421b1c4370ec43b', 'SAME', '1230000001', 'wxsub', 1700000000, 600);
                    UPDATE pending_orders SET status = 'paid', outcome = 'paid', attempts = 2,
                      last_error = 'ORDERPAID: 订单已支付', last_err_code = 'ORDERPAID', transaction_id = '4200000001',
                      in_doubt = 1, conflict = 'paid while closing', first_attempt_ms = 1700000905000,
                      last_attempt_ms = 1700000966000, finished_ms = 1700000966500, retry_at_ms = 1700000960000,
                      lease_owner = 'host:1:a', lease_token = 'tok', lease_expires_ms = 1700000999000
                    WHERE out_trade_no = 'SAME';
                    INSERT INTO pending_orders (mch_id, appid, out_trade_no, created_at, timeout_seconds)
                    VALUES ('1900000110', 'wx1', 'SAME', 1700000100, 0),
                           ('1900000110', 'wx1', 'DONE', 1700000100, 0);
                    UPDATE pending_orders SET in_doubt = 1 WHERE mch_id = '1900000110' AND out_trade_no = 'SAME';
                    INSERT INTO close_attempts (order_id, mch_id, out_trade_no, attempt, operation, started_ms, finished_ms,
                      endpoint, http_status, return_code, return_msg, result_code, err_code, err_code_des, outcome, error, verified)
                    VALUES (1, '1900000109', 'SAME', 1, 'closeorder', 1700000905000, 1700000905250,
                      'https://api.mch.weixin.qq.com/pay/closeorder', 200, 'SUCCESS', 'OK', 'FAIL', 'ORDERPAID', '订单已支付',
                      'paid', 'order paid', 1);
                    INSERT INTO close_attempts (order_id, mch_id, out_trade_no, attempt, operation, started_ms, finished_ms, outcome)
                    VALUES (1, '1900000109', 'SAME', 2, 'orderquery', 1700000966000, 1700000966010, 'retry');
                    """)
            try db.execute(
                sql:
                    "UPDATE pending_orders SET status = 'failed', finished_ms = ?, last_error = 'gave up' WHERE out_trade_no = 'DONE'",
                arguments: [hourAgo])
            let daemon = """
                {"owner":"host:1:a","host":"host","pid":1,"bootID":"b","version":"0.4.0","startedMs":1700000000000,"intervalSeconds":30,"lastSeenMs":0}
                """
            let open = #"{"reason":"SIGNERROR: 签名错误","state":"open","untilMs":4102444800000}"#
            try db.execute(
                sql: """
                    INSERT INTO daemon_state (key, value, updated_ms) VALUES
                      ('circuit:1900000109/1230000001', ?, 1700000900000),
                      ('circuit:1900000110', 'paused: key file /etc/closeorderd/keys/b.key does not exist', 1700000901000),
                      ('circuit:1900000111', 'closed', 1700000902000),
                      ('pause:1900000112', 'key rotation', 1700000903000),
                      ('daemon:host:1:a', ?, 1700000904000),
                      ('heartbeat', 'due=0 closing=0', 1700000905000),
                      ('endpoint', 'primary', 1700000906000)
                    """, arguments: [open, daemon])
        }
        return (folder, path)
    }

    /// Relative times and the JSON figures that depend on when the command ran.
    static func masked(_ output: String) -> String {
        var text = output
        for pattern in [
            #"in [0-9]+ (s|min|h|days)\b|[0-9]+ (s|min|h|days) ago|\bnow\b"#, #"("overdue_seconds" : )[0-9.e+]+"#,
            #"("last_seen_seconds_ago" : )[0-9]+"#,
        ] {
            let regex = try! NSRegularExpression(pattern: pattern)
            let template = pattern.hasPrefix("(\"") ? "$1N" : "WHEN"
            text = regex.stringByReplacingMatches(
                in: text, range: NSRange(text.startIndex..., in: text), withTemplate: template)
        }
        return text
    }

    static func expect(_ arguments: [String], _ path: String, equals expected: String) async throws {
        let result = try await CLIHarness.run(arguments + ["--database", path])
        #expect(result.status == 0, "\(result.output)")
        let actual = masked(result.output)
        if actual != expected {
            let file = "/tmp/operator-output-\(arguments.joined(separator: "-")).txt"
            try? actual.write(toFile: file, atomically: true, encoding: .utf8)
            Issue.record("\(arguments) printed (also in \(file)):\n\(actual)")
        }
    }

    @Test func showTextAndJSON() async throws {
        let (folder, path) = try await Self.world()
        defer { try? FileManager.default.removeItem(at: folder) }
        try await Self.expect(["show", "SAME"], path, equals: Self.showText)
        try await Self.expect(["show", "SAME", "--json"], path, equals: Self.showJSON)
    }

    @Test func statusTextAndJSON() async throws {
        let (folder, path) = try await Self.world()
        defer { try? FileManager.default.removeItem(at: folder) }
        try await Self.expect(["status"], path, equals: Self.statusText)
        try await Self.expect(["status", "--json"], path, equals: Self.statusJSON)
    }

    static let showText = #"""
        appid: wx2421b1c4370ec43b
        attempts: 2
        conflict: paid while closing
        created_at: 1700000000 (2023-11-14T22:13:20.000Z (WHEN))
        finished_ms: 2023-11-14T22:29:26.500Z (WHEN)
        first_attempt_ms: 2023-11-14T22:28:25.000Z (WHEN)
        id: 1
        in_doubt: 0
        last_attempt_ms: 2023-11-14T22:29:26.000Z (WHEN)
        last_err_code: ORDERPAID
        last_error: ORDERPAID: 订单已支付
        mch_id: 1900000109
        next_attempt_ms: 2023-11-14T22:29:20.000Z (WHEN)
        out_trade_no: SAME
        outcome: paid
        retry_at_ms: 2023-11-14T22:29:20.000Z (WHEN)
        status: paid
        sub_appid: wxsub
        sub_mch_id: 1230000001
        timeout_seconds: 600
        transaction_id: 4200000001
        close_attempts (2):
          attempt=1 operation=closeorder started=2023-11-14T22:28:25.000Z duration_ms=250 endpoint=https://api.mch.weixin.qq.com/pay/closeorder http_status=200 return_code=SUCCESS return_msg=OK result_code=FAIL err_code=ORDERPAID err_code_des=订单已支付 outcome=paid error=order paid
          attempt=2 operation=orderquery started=2023-11-14T22:29:26.000Z duration_ms=10 outcome=retry
        appid: wx1
        attempts: 0
        created_at: 1700000100 (2023-11-14T22:15:00.000Z (WHEN))
        id: 2
        in_doubt: 1
        mch_id: 1900000110
        next_attempt_ms: 2023-11-14T22:20:00.000Z (WHEN)
        out_trade_no: SAME
        status: pending
        timeout_seconds: 0
        close_attempts (0):
        """# + "\n"
    static let showJSON = #"""
        [
          {
            "attempts" : [
              {
                "attempt" : 1,
                "duration_ms" : 250,
                "endpoint" : "https://api.mch.weixin.qq.com/pay/closeorder",
                "err_code" : "ORDERPAID",
                "err_code_des" : "订单已支付",
                "error" : "order paid",
                "finished_ms" : 1700000905250,
                "http_status" : 200,
                "id" : 1,
                "mch_id" : "1900000109",
                "operation" : "closeorder",
                "order_id" : 1,
                "out_trade_no" : "SAME",
                "outcome" : "paid",
                "result_code" : "FAIL",
                "return_code" : "SUCCESS",
                "return_msg" : "OK",
                "started_ms" : 1700000905000,
                "verified" : 1
              },
              {
                "attempt" : 2,
                "duration_ms" : 10,
                "endpoint" : null,
                "err_code" : null,
                "err_code_des" : null,
                "error" : null,
                "finished_ms" : 1700000966010,
                "http_status" : null,
                "id" : 2,
                "mch_id" : "1900000109",
                "operation" : "orderquery",
                "order_id" : 1,
                "out_trade_no" : "SAME",
                "outcome" : "retry",
                "result_code" : null,
                "return_code" : null,
                "return_msg" : null,
                "started_ms" : 1700000966000,
                "verified" : null
              }
            ],
            "order" : {
              "appid" : "wx2421b1c4370ec43b",
              "attempts" : 2,
              "conflict" : "paid while closing",
              "created_at" : 1700000000,
              "finished_ms" : 1700000966500,
              "first_attempt_ms" : 1700000905000,
              "id" : 1,
              "in_doubt" : 0,
              "last_attempt_ms" : 1700000966000,
              "last_err_code" : "ORDERPAID",
              "last_error" : "ORDERPAID: 订单已支付",
              "lease_expires_ms" : 1700000999000,
              "lease_owner" : "host:1:a",
              "lease_token" : "tok",
              "mch_id" : "1900000109",
              "next_attempt_ms" : 1700000960000,
              "out_trade_no" : "SAME",
              "outcome" : "paid",
              "retry_at_ms" : 1700000960000,
              "status" : "paid",
              "sub_appid" : "wxsub",
              "sub_mch_id" : "1230000001",
              "timeout_seconds" : 600,
              "transaction_id" : "4200000001"
            }
          },
          {
            "attempts" : [

            ],
            "order" : {
              "appid" : "wx1",
              "attempts" : 0,
              "conflict" : null,
              "created_at" : 1700000100,
              "finished_ms" : null,
              "first_attempt_ms" : null,
              "id" : 2,
              "in_doubt" : 1,
              "last_attempt_ms" : null,
              "last_err_code" : null,
              "last_error" : null,
              "lease_expires_ms" : null,
              "lease_owner" : null,
              "lease_token" : null,
              "mch_id" : "1900000110",
              "next_attempt_ms" : 1700000400000,
              "out_trade_no" : "SAME",
              "outcome" : null,
              "retry_at_ms" : null,
              "status" : "pending",
              "sub_appid" : null,
              "sub_mch_id" : null,
              "timeout_seconds" : 0,
              "transaction_id" : null
            }
          }
        ]
        """# + "\n"
    static let statusText = #"""
        pending  1
        closing  0
        closed   0
        paid     1
        failed   1
        overdue: 1 (undecided orders past their own due time)
        oldest overdue: SAME (mch_id 1900000110), due 2023-11-14T22:20:05.000Z, WHEN
        in doubt: 1
        failed in the last 24 h: 1
        merchant 1900000112 paused by an operator: key rotation
        merchant 1900000109/1230000001 circuit: open, until 2100-01-01T00:00:00.000Z, SIGNERROR: 签名错误
        merchant 1900000110 circuit: paused, key file /etc/closeorderd/keys/b.key does not exist
        daemon host:1:a (0.4.0, pid 1): started 2023-11-14T22:13:20.000Z, last seen WHEN — STALE: missed three heartbeats
        last heartbeat: due=0 closing=0
        """# + "\n"
    static let statusJSON = #"""
        {
          "circuits" : {
            "1900000109/1230000001" : {
              "reason" : "SIGNERROR: 签名错误",
              "since" : "2023-11-14T22:28:20.000Z",
              "state" : "open",
              "until" : "2100-01-01T00:00:00.000Z"
            },
            "1900000110" : {
              "reason" : "key file /etc/closeorderd/keys/b.key does not exist",
              "since" : "2023-11-14T22:28:21.000Z",
              "state" : "paused"
            }
          },
          "counts" : {
            "closed" : 0,
            "closing" : 0,
            "failed" : 1,
            "paid" : 1,
            "pending" : 1
          },
          "daemon" : {
            "endpoint" : "primary",
            "heartbeat" : "due=0 closing=0"
          },
          "daemons" : [
            {
              "host" : "host",
              "last_seen_at" : "2023-11-14T22:28:24.000Z",
              "last_seen_seconds_ago" : N,
              "owner" : "host:1:a",
              "pid" : 1,
              "stale" : true,
              "started_at" : "2023-11-14T22:13:20.000Z",
              "version" : "0.4.0"
            }
          ],
          "failed_last_day" : 1,
          "in_doubt" : 1,
          "oldest_overdue" : {
            "due_at" : "2023-11-14T22:20:05.000Z",
            "mch_id" : "1900000110",
            "out_trade_no" : "SAME",
            "overdue_seconds" : N
          },
          "overdue" : 1,
          "pauses" : {
            "1900000112" : "key rotation"
          }
        }
        """# + "\n"
}
