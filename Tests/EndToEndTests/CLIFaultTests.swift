import Foundation
import GRDB
import Testing

/// Operator commands when the config or the database is at fault (issue 22.2, 22.6, 22.10):
/// never another database, `status --check` as the monitoring contract, and usage details.
@Suite struct CLIFaultTests {
    static let mch = "1900000109"

    /// A config `run` refuses (a `database.url` without sslmode) sends no command to the default
    /// SQLite file: each one names the problem and changes nothing anywhere.
    @Test func aConfigRunRefusesSendsNoCommandToAnotherDatabase() async throws {
        let folder = try CLIHarness.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let key = folder.appendingPathComponent("\(Self.mch).key")
        CLIHarness.write("0123456789abcdef0123456789abcdef", to: key)
        let config = folder.appendingPathComponent("config.json")
        CLIHarness.write(
            """
            { "database": { "url": "postgresql://closeorderd@127.0.0.1:5432/shop" },
              "wechatpay": { "primary_url": "http://127.0.0.1:9", "failover": false },
              "merchants": { "\(Self.mch)": { "appids": ["wx2421b1c4370ec43b"], "key_file": "\(key.path)" } } }
            """, to: config)
        let commands: [[String]] = [
            ["migrate"], ["status"], ["pause", Self.mch, "--reason", "x"], ["retry-now", "A1"], ["list"], ["show", "A1"],
        ]
        for command in commands {
            let result = try await CLIHarness.run(command + ["--config", config.path], timeout: 20)
            #expect(result.status == 1, "\(command): \(result.status) \(result.output)")
            #expect(
                result.output.contains("needs sslmode") && result.output.contains("config is invalid"),
                "\(command): \(result.output)")
            #expect(!result.output.contains("/var/lib/closeorderd"), "\(command) went to the default database: \(result.output)")
        }
        let check = try await CLIHarness.run(["status", "--check", "--config", config.path], timeout: 20)
        #expect(check.status == 3, "\(check.output)")
        #expect(check.output.hasPrefix("closeorderd UNKNOWN: ") && check.output.contains("needs sslmode"), "\(check.output)")
        #expect(check.output.split(separator: "\n").count == 1)
    }

    /// An unreachable database is CRITICAL (2), said within seconds with the cause.
    @Test func anUnreachableDatabaseIsCritical() async throws {
        let folder = try CLIHarness.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let port = try ReservedPort()
        let config = CLIHarness.config(in: folder)
        var text = try String(contentsOf: config, encoding: .utf8)
        text = text.replacingOccurrences(
            of: "\"path\": \"\(folder.path)/orders.sqlite\"",
            with: "\"url\": \"postgresql://closeorderd@127.0.0.1:\(port.port)/shop?sslmode=disable\"")
        CLIHarness.write(text, to: config)
        let started = Date()
        let check = try await CLIHarness.run(["status", "--check", "--config", config.path], timeout: 30)
        #expect(check.status == 2, "\(check.output)")
        #expect(check.output.hasPrefix("closeorderd CRITICAL: the database is unreachable"), "\(check.output)")
        #expect(check.output.lowercased().contains("refused"), "no cause in words: \(check.output)")
        #expect(Date().timeIntervalSince(started) < 20, "the probe is bounded by 5 s; the pool took a minute")
        withExtendedLifetime(port) {}

        // A SQLite file that is not there: nothing is being closed either.
        let missing = try await CLIHarness.run([
            "status", "--check", "--database", folder.appendingPathComponent("none.sqlite").path,
        ])
        #expect(missing.status == 2 && missing.output.contains("no database at"), "\(missing.output)")
    }

    /// A user who may not read the database gets UNKNOWN (3) saying so, not "no database".
    @Test(.enabled(if: getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv")))
    func permissionDeniedIsTheChecksOwnFailure() async throws {
        let folder = try CLIHarness.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let inner = folder.appendingPathComponent("state")
        try FileManager.default.createDirectory(
            at: inner, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        let (path, _) = try await CLIDatabaseTests.migratedDatabase(in: inner)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: folder.path)
        let result = try await EndToEndWorld.offPool {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
            process.arguments = [
                "--reuid=65534", "--regid=65534", "--clear-groups", try DaemonProcess.binary().path,
                "status", "--check", "--database", path,
            ]
            process.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("CLOSEORDERD_") }
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardError = pipe
            try process.run()
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return (process.terminationStatus, String(decoding: data, as: UTF8.self))
        }
        #expect(result.0 == 3, "\(result.1)")
        #expect(
            result.1.hasPrefix("closeorderd UNKNOWN") && result.1.contains("permission denied") && result.1.contains("uid 65534"),
            "\(result.1)")
    }

    /// Overdue orders below the warning are OK, and the line says why.
    @Test func anOKWithOverdueOrdersSaysWhy() async throws {
        let folder = try CLIHarness.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let (path, pool) = try await CLIDatabaseTests.migratedDatabase(in: folder)
        let now = Int64(Date().timeIntervalSince1970)
        let record = """
            {"owner":"h:1:a","host":"h","pid":1,"bootID":"b","version":"t","startedMs":\(now * 1000),"intervalSeconds":30,"lastSeenMs":0}
            """
        try await pool.write { db in
            try db.execute(
                sql:
                    "INSERT INTO pending_orders (mch_id, appid, out_trade_no, created_at, timeout_seconds) VALUES (?, 'wx1', 'LATE', ?, 0)",
                arguments: [Self.mch, now - 365])
            try db.execute(
                sql: "INSERT INTO daemon_state (key, value, updated_ms) VALUES ('daemon:h:1:a', ?, ?)",
                arguments: [record, now * 1000])
        }
        let check = try await CLIHarness.run(["status", "--check", "--database", path])
        #expect(check.status == 0, "\(check.output)")
        #expect(check.output.contains("1 overdue (the oldest") && check.output.contains("warning at 300 s"), "\(check.output)")
    }

    /// Usage details: one exit code for usage errors (the parser's, 64), values offered by the
    /// completion, a merchant that is not configured is not paused silently, and `show` prints
    /// one `attempts` and readable start times.
    @Test func usageErrorsCompletionPauseAndShow() async throws {
        let folder = try CLIHarness.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let config = CLIHarness.config(in: folder)
        let (path, pool) = try await CLIDatabaseTests.migratedDatabase(in: folder)

        let wrong = try await CLIHarness.run(["list", "--database", path, "--status", "sleeping"])
        let noIDs = try await CLIHarness.run(["retry-now", "--database", path])
        #expect(wrong.status == 64 && noIDs.status == 64, "list \(wrong.status), retry-now \(noIDs.status)")
        #expect(wrong.output.contains("pending") && wrong.output.contains("failed"), "\(wrong.output)")

        let completion = try await CLIHarness.run(["--generate-completion-script", "bash"])
        #expect(completion.status == 0)
        let afterStatus =
            completion.output.components(separatedBy: "'--status')").dropFirst().first?.components(separatedBy: ";;").first ?? ""
        #expect(
            ["pending", "closing", "closed", "paid", "failed"].allSatisfy(afterStatus.contains), "no values after list --status")

        let typo = try await CLIHarness.run(["pause", "1900000999", "--reason", "x", "--config", config.path])
        #expect(typo.status == 1 && typo.output.contains("not in the config"), "\(typo.output)")
        let other = try await CLIHarness.run(["pause", "1900000999", "--reason", "x", "--unconfigured", "--config", config.path])
        #expect(other.status == 0, "\(other.output)")
        let configured = try await CLIHarness.run(["pause", Self.mch, "--reason", "x", "--config", config.path])
        #expect(configured.status == 0, "\(configured.output)")

        let now = Int64(Date().timeIntervalSince1970)
        try await pool.write { db in
            try db.execute(
                sql:
                    "INSERT INTO pending_orders (mch_id, appid, out_trade_no, created_at, timeout_seconds) VALUES (?, 'wx1', 'SHOWN', ?, 0)",
                arguments: [Self.mch, now - 400])
            let id = try Int64.fetchOne(db, sql: "SELECT id FROM pending_orders WHERE out_trade_no = 'SHOWN'")!
            try db.execute(
                sql: """
                    INSERT INTO close_attempts (order_id, mch_id, out_trade_no, attempt, operation, started_ms, finished_ms, endpoint, outcome)
                    VALUES (?, ?, 'SHOWN', 1, 'closeorder', ?, ?, 'http://127.0.0.1:9', 'closed')
                    """, arguments: [id, Self.mch, now * 1000 - 8_000, now * 1000 - 7_988])
        }
        let show = try await CLIHarness.run(["show", "SHOWN", "--database", path])
        #expect(show.status == 0, "\(show.output)")
        #expect(show.output.components(separatedBy: "attempts:").count - 1 <= 1, "\(show.output)")
        #expect(show.output.contains("close_attempts (1):"), "\(show.output)")
        #expect(!show.output.contains("_(") && !show.output.contains("_ago"), "\(show.output)")
    }

    /// `resume` clears a merchant's circuit row (issue 22.3): `status --check` stops warning.
    @Test func resumeClearsAnOpenCircuit() async throws {
        let folder = try CLIHarness.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let (path, pool) = try await CLIDatabaseTests.migratedDatabase(in: folder)
        let now = Int64(Date().timeIntervalSince1970) * 1000
        let record = """
            {"owner":"h:1:a","host":"h","pid":1,"bootID":"b","version":"t","startedMs":\(now),"intervalSeconds":30,"lastSeenMs":0}
            """
        let open = """
            {"owner":"h:1:a","reason":"SIGNERROR","state":"open","untilMs":\(now + 600_000)}
            """
        try await pool.write { db in
            try db.execute(
                sql: "INSERT INTO daemon_state (key, value, updated_ms) VALUES ('daemon:h:1:a', ?, ?)", arguments: [record, now])
            try db.execute(
                sql: "INSERT INTO daemon_state (key, value, updated_ms) VALUES ('circuit:1900000109', ?, ?)",
                arguments: [open, now])
        }
        let before = try await CLIHarness.run(["status", "--check", "--database", path])
        #expect(before.status == 1 && before.output.contains("merchant circuit open: 1900000109"), "\(before.output)")
        let resume = try await CLIHarness.run(["resume", Self.mch, "--database", path])
        #expect(resume.status == 0 && resume.output.contains("circuit 1900000109 cleared"), "\(resume.output)")
        let after = try await CLIHarness.run(["status", "--check", "--database", path])
        #expect(after.status == 0, "\(after.output)")
    }
}
