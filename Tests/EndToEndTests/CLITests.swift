import Foundation
import GRDB
import Testing

/// Each command of the real binary, as an operator would use it.
@Suite struct CLITests {
    static func temporaryDirectory() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("closeorderd-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory
    }

    static func write(_ text: String, to url: URL, mode: Int = 0o600) {
        FileManager.default.createFile(atPath: url.path, contents: Data(text.utf8), attributes: [.posixPermissions: mode])
    }

    @Test func versionAndHelp() async throws {
        let version = try await CLIHarness.run(["--version"])
        #expect(version.status == 0 && version.output.contains("closeorderd"))
        for command in ["run", "migrate", "demo", "status", "show", "requeue", "sign", "check-config", "fake-wechatpay"] {
            let help = try await CLIHarness.run([command, "--help"])
            #expect(help.status == 0, "\(command) --help")
            #expect(help.output.contains("USAGE: closeorderd \(command)"), "\(command): \(help.output)")
        }
    }

    @Test func signMatchesTheOfficialVector() async throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let key = directory.appendingPathComponent("key")
        Self.write("192006250b4c09247ec02edce69f6a2d\n", to: key)
        let fields = [
            "appid=wxd930ea5d5a258f4f", "mch_id=10000100", "device_info=1000", "body=test", "nonce_str=ibuaiVcKdpRxkhJA",
        ]
        let md5 = try await CLIHarness.run(["sign", "--key-file", key.path, "--sign-type", "MD5"] + fields)
        #expect(md5.status == 0)
        #expect(md5.output.trimmingCharacters(in: .whitespacesAndNewlines) == "9A0A8659F005D6984697E2CA0A9CF3B7")
        let hmac = try await CLIHarness.run(["sign", "--key-file", key.path, "--sign-type", "HMAC-SHA256"] + fields)
        #expect(
            hmac.output.trimmingCharacters(in: .whitespacesAndNewlines)
                == "6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6")
        let bad = try await CLIHarness.run(["sign", "--key-file", key.path, "--sign-type", "SHA1"] + fields)
        #expect(bad.status != 0 && bad.output.contains("--sign-type"))
    }

    @Test func checkConfigNamesEveryBadKey() async throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = directory.appendingPathComponent("config.json")
        Self.write(
            """
            {
              "database": { "path": "\(directory.path)/orders.sqlite", "busy_timeout_ms": "soon" },
              "wechatpay": { "primary_url": "http://api.mch.weixin.qq.com" },
              "schedule": { "min_age_seconds": 120 },
              "throughput": { "concurrency": 0 },
              "log": { "format": "xml" },
              "retyr": { "max_attempts": 3 },
              "merchants": {
                "1900000109": { "appids": [], "sign_type": "SHA1" },
                "1900000110": { "appids": ["wx1"], "key_file": "\(directory.path)/missing.key" }
              }
            }
            """, to: config)
        let result = try await CLIHarness.run(["check-config", "--config", config.path])
        #expect(result.status == 1)
        for key in [
            "database.busy_timeout_ms", "wechatpay.primary_url", "schedule.min_age_seconds", "throughput.concurrency",
            "log.format", "retyr.max_attempts: unknown key", "merchants.1900000109.appids", "merchants.1900000109.sign_type",
            "merchants.1900000109: set key_file or key_credential",
            "merchants.1900000110.key_file: \(directory.path)/missing.key does not exist",
        ] {
            #expect(result.output.contains(key), "\(key) not named in:\n\(result.output)")
        }
        // run refuses to start with the same messages.
        let run = try await CLIHarness.run(["run", "--config", config.path])
        #expect(run.status == 78)  // EX_CONFIG
        #expect(run.output.contains("throughput.concurrency"))
    }

    @Test func checkConfigAcceptsAGoodConfigWarnsAboutOpenKeysAndNeverPrintsTheKey() async throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let key = directory.appendingPathComponent("1900000109.key")
        Self.write("0123456789abcdef0123456789abcdef", to: key, mode: 0o644)
        let config = directory.appendingPathComponent("config.json")
        Self.write(
            """
            { "database": { "path": "\(directory.path)/orders.sqlite" },
              "merchants": { "1900000109": { "appids": ["wx2421b1c4370ec43b"], "key_file": "\(key.path)" } } }
            """, to: config)
        let result = try await CLIHarness.run(["check-config", "--config", config.path])
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("readable by every user"))
        #expect(result.output.contains("key <redacted>"))
        #expect(!result.output.contains("0123456789abcdef"))
        // An environment override wins over the file.
        let overridden = try await CLIHarness.run(
            ["check-config", "--config", config.path],
            environment: ["CLOSEORDERD_THROUGHPUT_CONCURRENCY": "7"])
        #expect(overridden.output.contains("concurrency 7"))
    }

    @Test func migrateStatusShowAndRequeue() async throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let database = directory.appendingPathComponent("orders.sqlite").path
        let first = try await CLIHarness.run(["migrate", "--database", database])
        #expect(first.status == 0 && first.output.contains("applied 1, 2, 3"))
        let again = try await CLIHarness.run(["migrate", "--database", database])
        #expect(again.status == 0 && again.output.contains("up to date"))

        let pool = try DatabasePool(path: database)
        try await pool.write { db in
            try db.execute(
                sql: """
                    INSERT INTO pending_orders (mch_id, appid, out_trade_no, created_at, timeout_seconds) VALUES
                      ('1900000109', 'wx1', 'DUE-1', 1400000000, 0),
                      ('1900000109', 'wx1', 'GAVE-UP', 1400000000, 0);
                    UPDATE pending_orders SET status = 'failed', last_error = 'gave up after 10 attempts' WHERE out_trade_no = 'GAVE-UP';
                    """)
        }
        let status = try await CLIHarness.run(["status", "--database", database, "--json"])
        #expect(status.status == 0)
        let json = try JSONSerialization.jsonObject(with: Data(status.output.utf8)) as? [String: Any]
        let counts = json?["counts"] as? [String: Int]
        #expect(counts?["pending"] == 1 && counts?["failed"] == 1)
        #expect((json?["oldest_overdue"] as? [String: Any])?["out_trade_no"] as? String == "DUE-1")
        let text = try await CLIHarness.run(["status", "--database", database])
        #expect(text.output.contains("oldest overdue: DUE-1"))

        let show = try await CLIHarness.run(["show", "GAVE-UP", "--database", database])
        #expect(show.status == 0 && show.output.contains("last_error: gave up after 10 attempts"))
        let missing = try await CLIHarness.run(["show", "NOPE", "--database", database])
        #expect(missing.status == 1 && missing.output.contains("no order with out_trade_no NOPE"))

        let requeue = try await CLIHarness.run(["requeue", "GAVE-UP", "--database", database])
        #expect(requeue.status == 0 && requeue.output.contains("1 failed order(s)"))
        let row = try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT status, attempts FROM pending_orders WHERE out_trade_no = 'GAVE-UP'")
        }
        #expect(row?["status"] as String? == "pending")
        #expect(try await CLIHarness.run(["requeue", "--database", database]).status != 0)  // says what to give
    }

    @Test func readCommandsExplainAMissingDatabase() async throws {
        let result = try await CLIHarness.run(["status", "--database", "/nonexistent/orders.sqlite"])
        #expect(result.status == 1)
        #expect(result.output.contains("the folder /nonexistent does not exist"), "\(result.output)")
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let absent = try await CLIHarness.run(["status", "--database", directory.path + "/orders.sqlite"])
        #expect(
            absent.status == 1 && absent.output.contains("no database at \(directory.path)/orders.sqlite"), "\(absent.output)")
    }

    @Test func demoRunsAndEveryOrderEndsAsExpected() async throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let demo = try await CLIHarness.run(["demo", "--directory", directory.path])
        #expect(demo.status == 0, "\(demo.output)")
        #expect(demo.output.contains("demo: every order ended as expected"))
        #expect(demo.output.contains("0 with a bad signature, 0 closes before the 5-minute mark"))
        let log = try String(contentsOfFile: directory.appendingPathComponent("closeorderd.log").path, encoding: .utf8)
        // One sentence per attempt for the journal, the facts as fields beside it.
        #expect(log.contains("attempt 1: closed in"), "\(log.suffix(2000))")
        #expect(log.contains("outcome=closed"))
    }
}
