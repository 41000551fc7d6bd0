import Foundation
import GRDB
import Testing

/// `status`, `show`, `requeue`, `migrate`, `run` and `sign` as an operator meets them (issues 10 and 12).
@Suite struct CLIDatabaseTests {
    static func migratedDatabase(in folder: URL) async throws -> (path: String, pool: DatabasePool) {
        let path = folder.appendingPathComponent("orders.sqlite").path
        let migrate = try await CLIHarness.run(["migrate", "--database", path])
        #expect(migrate.status == 0, "\(migrate.output)")
        return (path, try DatabasePool(path: path))
    }

    /// Issue 10 defect 10: database text (WeChat's words, error texts) cannot drive the terminal.
    @Test func showAndStatusEscapeControlCharacters() async throws {
        let folder = try CLIHarness.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let (database, pool) = try await Self.migratedDatabase(in: folder)
        try await pool.write { db in
            try db.execute(
                sql: """
                    INSERT INTO pending_orders (mch_id, appid, out_trade_no, created_at, timeout_seconds, last_error, conflict)
                    VALUES ('1900000109', 'wx1', 'ESC-1', 1400000000, 0, ?, ?)
                    """, arguments: ["\u{1b}[31mred\rfake line\u{7f}", "C1 \u{9b}2J"])
            try db.execute(sql: "UPDATE pending_orders SET status = 'failed' WHERE out_trade_no = 'ESC-1'")
            try db.execute(
                sql: """
                    INSERT INTO close_attempts (order_id, mch_id, out_trade_no, attempt, operation, started_ms, finished_ms, return_msg, outcome, error)
                    VALUES (1, '1900000109', 'ESC-1', 1, 'closeorder', 1, 2, ?, 'retry', ?)
                    """, arguments: ["\u{1b}]0;title\u{07}", "bell\u{07}"])
            try db.execute(
                sql: "INSERT INTO daemon_state (key, value, updated_ms) VALUES ('circuit:1900000109', ?, 1), ('heartbeat', ?, 1)",
                arguments: ["paused: \u{1b}[2J", "pid 1\r\u{1b}[Kforged"])
        }
        let show = try await CLIHarness.run(["show", "ESC-1", "--database", database])
        #expect(show.status == 0)
        let status = try await CLIHarness.run(["status", "--database", database])
        #expect(status.status == 0)
        for output in [show.output, status.output] {
            #expect(
                !output.unicodeScalars.contains {
                    $0 == "\u{1b}" || $0 == "\r" || $0 == "\u{7f}" || $0 == "\u{9b}" || $0 == "\u{07}"
                },
                "raw control characters in:\n\(output.debugDescription)")
        }
        #expect(show.output.contains(#"last_error: \u001b[31mred\rfake line\u007f"#), "\(show.output.debugDescription)")
        #expect(show.output.contains(#"conflict: C1 \u009b2J"#))
        #expect(
            show.output.contains(#"return_msg="\u001b]0;title\u0007""#)
                || show.output.contains(#"return_msg=\u001b]0;title\u0007"#),
            "\(show.output.debugDescription)")
        #expect(status.output.contains(#"paused, \u001b[2J"#), "\(status.output.debugDescription)")
    }

    @Test func aMissingDatabaseFolderIsNamedInWords() async throws {
        let folder = try CLIHarness.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let missing = "/nonexistent-closeorderd-\(UUID().uuidString.prefix(8))"
        let database = missing + "/orders.sqlite"
        let config = CLIHarness.config(in: folder)
        for arguments in [
            ["run", "--config", config.path, "--database", database], ["migrate", "--database", database],
            ["status", "--database", database], ["show", "X", "--database", database],
        ] {
            let result = try await CLIHarness.run(arguments)
            #expect(result.status != 0)
            #expect(result.output.contains("the folder \(missing) does not exist"), "\(arguments[0]): \(result.output)")
            #expect(!result.output.contains("SQLite error"), "\(arguments[0]): \(result.output)")
        }
    }

    @Test func requeueSaysWhyEachOrderWasSkipped() async throws {
        let folder = try CLIHarness.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let (database, pool) = try await Self.migratedDatabase(in: folder)
        try await pool.write { db in
            try db.execute(
                sql: """
                    INSERT INTO pending_orders (mch_id, appid, out_trade_no, created_at, timeout_seconds) VALUES
                      ('1900000109', 'wx1', 'GAVE-UP', 1400000000, 0),
                      ('1900000109', 'wx1', 'WAITING', 1400000000, 0),
                      ('1900000109', 'wx1', 'DONE', 1400000000, 0);
                    UPDATE pending_orders SET status = 'failed' WHERE out_trade_no = 'GAVE-UP';
                    UPDATE pending_orders SET status = 'closed' WHERE out_trade_no = 'DONE';
                    """)
        }
        let result = try await CLIHarness.run(["requeue", "GAVE-UP", "WAITING", "DONE", "NOPE", "--database", database])
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("1 failed order(s) moved back to pending"), "\(result.output)")
        #expect(result.output.contains("WAITING (mch_id 1900000109): skipped, it is pending, not failed"), "\(result.output)")
        #expect(result.output.contains("DONE (mch_id 1900000109): skipped, it is closed, not failed"), "\(result.output)")
        #expect(result.output.contains("NOPE: skipped, no such order"), "\(result.output)")
        let other = try await CLIHarness.run(["requeue", "WAITING", "--mch-id", "1900000110", "--database", database])
        #expect(other.status == 1)
        #expect(other.output.contains("WAITING: skipped, no such order for mch_id 1900000110"), "\(other.output)")
    }

    @Test func signUsesTheSignTypeField() async throws {
        let folder = try CLIHarness.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let key = folder.appendingPathComponent("key")
        CLIHarness.write("192006250b4c09247ec02edce69f6a2d\n", to: key)
        let fields = ["appid=wxd930ea5d5a258f4f", "mch_id=10000100", "nonce_str=ibuaiVcKdpRxkhJA", "sign_type=HMAC-SHA256"]
        let flagged = try await CLIHarness.run(["sign", "--key-file", key.path, "--sign-type", "HMAC-SHA256"] + fields)
        #expect(flagged.status == 0)
        let fromField = try await CLIHarness.run(["sign", "--key-file", key.path] + fields)
        #expect(fromField.status == 0)
        #expect(fromField.output == flagged.output && fromField.output.count == 65, "\(fromField.output) vs \(flagged.output)")
        let conflicting = try await CLIHarness.run(["sign", "--key-file", key.path, "--sign-type", "MD5"] + fields)
        #expect(conflicting.status != 0, "\(conflicting.output)")
        #expect(
            conflicting.output.contains("sign_type=HMAC-SHA256") && conflicting.output.contains("--sign-type MD5"),
            "\(conflicting.output)")
        let missing = try await CLIHarness.run(["sign", "--key-file", folder.appendingPathComponent("nope").path] + fields)
        #expect(
            missing.status != 0 && missing.output.contains("does not exist") && !missing.output.contains("NSCocoaErrorDomain"),
            "\(missing.output)")
    }
}
