import Foundation
import Testing

/// What `check-config` and `run` say about a config an operator got wrong (issues 10 and 12).
@Suite struct CLIConfigTests {
    @Test func endpointURLsAreParsedNotPrefixMatched() async throws {
        let folder = try CLIHarness.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let refused: [(url: String, why: String)] = [
            ("http://127.evil.example", "loopback"),
            ("http://127.0.0.1.nip.io", "loopback"),
            ("http://127.0.0.1:18080?x=", "query"),
            ("http://127.0.0.1:18080#top", "fragment"),
            ("https://user@api.mch.weixin.qq.com", "user name"),
            ("https://user:hunter2@api.mch.weixin.qq.com", "user name"),
            ("http://[::2]:18080", "loopback"),
            ("https://api.mch.weixin.qq.com/pay", "path"),
        ]
        for (url, why) in refused {
            let config = CLIHarness.config(in: folder, primaryURL: url)
            let check = try await CLIHarness.run(["check-config", "--config", config.path])
            #expect(check.status == 1, "\(url) accepted:\n\(check.output)")
            let line = check.output.split(separator: "\n").first { $0.contains("wechatpay.primary_url") } ?? ""
            #expect(line.contains(why), "\(url): \(check.output)")
            #expect(!check.output.contains("hunter2"), "a password in a URL is never echoed")
            let run = try await CLIHarness.run(["run", "--config", config.path], timeout: 15)
            #expect(run.status == 78, "\(url): run \(run.status)\n\(run.output)")
        }
        for url in [
            "http://127.0.0.1:18080", "http://127.1.2.3:18080/", "http://localhost:18080", "http://[::1]:18080",
            "https://api.mch.weixin.qq.com", "https://api.mch.weixin.qq.com/",
        ] {
            let config = CLIHarness.config(in: folder, primaryURL: url)
            let check = try await CLIHarness.run(["check-config", "--config", config.path])
            #expect(check.status == 0, "\(url) refused:\n\(check.output)")
        }
    }

    @Test func unknownEnvironmentVariablesAreRefusedWithASuggestion() async throws {
        let folder = try CLIHarness.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let config = CLIHarness.config(in: folder)
        let check = try await CLIHarness.run(
            ["check-config", "--config", config.path],
            environment: ["CLOSEORDERD_THROUGHPUT_CONCURENCY": "7"])
        #expect(check.status == 1, "\(check.output)")
        #expect(check.output.contains("CLOSEORDERD_THROUGHPUT_CONCURENCY"))
        #expect(check.output.contains("did you mean CLOSEORDERD_THROUGHPUT_CONCURRENCY"), "\(check.output)")
        let run = try await CLIHarness.run(["run", "--config", config.path], environment: ["CLOSEORDERD_NONSENSE": "1"])
        #expect(run.status == 78 && run.output.contains("CLOSEORDERD_NONSENSE"), "\(run.output)")
        // A merchant's variable is known only for a merchant in the file.
        let merchant = try await CLIHarness.run(
            ["check-config", "--config", config.path],
            environment: [
                "CLOSEORDERD_MERCHANTS_1900000109_RATE_PER_SECOND": "5",
                "CLOSEORDERD_CONFIG": config.path,
            ])
        #expect(merchant.status == 0, "\(merchant.output)")
        #expect(merchant.output.contains("5.0/s"))
    }

    @Test func retentionKeepDaysIsShownAndABadValueIsNamed() async throws {
        let folder = try CLIHarness.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let defaults = try await CLIHarness.run(["check-config", "--config", CLIHarness.config(in: folder).path])
        #expect(defaults.status == 0 && defaults.output.contains("retention.keep_days = 30"), "\(defaults.output)")
        let seven = try await CLIHarness.run([
            "check-config", "--config", CLIHarness.config(in: folder, extra: #""retention": { "keep_days": 7 }"#).path,
        ])
        #expect(seven.status == 0 && seven.output.contains("retention.keep_days = 7"), "\(seven.output)")
        for (value, why) in [
            ("0", "0 is out of range 1…36500"), ("-3", "-3 is out of range 1…36500"), ("\"thirty\"", "wrong type"),
            ("1.5", "wrong type"),
        ] {
            let config = CLIHarness.config(in: folder, extra: #""retention": { "keep_days": \#(value) }"#)
            let check = try await CLIHarness.run(["check-config", "--config", config.path])
            #expect(check.status == 1, "keep_days \(value) accepted:\n\(check.output)")
            let line = check.output.split(separator: "\n").first { $0.contains("retention.keep_days") } ?? ""
            #expect(line.contains(why), "keep_days \(value): \(check.output)")
        }
        // The environment is read the same way: a value of the wrong type is named, not taken for absent.
        let fromEnvironment = try await CLIHarness.run(
            ["check-config", "--config", CLIHarness.config(in: folder).path],
            environment: ["CLOSEORDERD_RETENTION_KEEP_DAYS": "thirty"])
        #expect(
            fromEnvironment.status == 1 && fromEnvironment.output.contains("retention.keep_days: has the wrong type"),
            "\(fromEnvironment.output)")
        let typo = try await CLIHarness.run([
            "check-config", "--config", CLIHarness.config(in: folder, extra: #""retention": { "keep_day": 7 }"#).path,
        ])
        #expect(typo.status == 1 && typo.output.contains("did you mean retention.keep_days"), "\(typo.output)")
    }

    @Test func unknownConfigKeysGetADidYouMean() async throws {
        let folder = try CLIHarness.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let config = CLIHarness.config(in: folder, extra: #""retyr": { "max_attempts": 3 }, "schedule": { "margin_second": 2 }"#)
        let check = try await CLIHarness.run(["check-config", "--config", config.path])
        #expect(check.status == 1)
        #expect(check.output.contains("retyr.max_attempts: unknown key (did you mean retry.max_attempts?)"), "\(check.output)")
        #expect(
            check.output.contains("schedule.margin_second: unknown key (did you mean schedule.margin_seconds?)"),
            "\(check.output)")
    }

    @Test func marginDefaultsToFiveSeconds() async throws {
        let folder = try CLIHarness.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let check = try await CLIHarness.run(["check-config", "--config", CLIHarness.config(in: folder).path])
        #expect(check.status == 0, "\(check.output)")
        #expect(check.output.contains("margin 5 s"), "\(check.output)")
    }

    @Test func keyProblemsAreNamedInWords() async throws {
        let folder = try CLIHarness.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let config = CLIHarness.config(
            in: folder, merchants: ["1900000109", "1900000110"],
            keys: ["1900000109": "short", "1900000110": nil])
        let check = try await CLIHarness.run(["check-config", "--config", config.path])
        #expect(check.status == 1)
        let missing = folder.appendingPathComponent("1900000110.key").path
        #expect(check.output.contains("merchants.1900000110.key_file: \(missing) does not exist"), "\(check.output)")
        #expect(!check.output.contains("NSCocoaErrorDomain") && !check.output.contains("Code=260"))
        #expect(check.output.contains("warning: merchants.1900000109.key_file: the key in"), "\(check.output)")
        #expect(check.output.contains("is 5 characters long; WeChat Pay v2 API keys are 32"), "\(check.output)")
        if geteuid() != 0 {  // root reads any file
            let locked = folder.appendingPathComponent("locked.key")
            CLIHarness.write("0123456789abcdef0123456789abcdef", to: locked, mode: 0o000)
            let lockedConfig = folder.appendingPathComponent("locked.json")
            CLIHarness.write(
                """
                { "merchants": { "1900000109": { "appids": ["wx1"], "key_file": "\(locked.path)" } } }
                """, to: lockedConfig)
            let result = try await CLIHarness.run(["check-config", "--config", lockedConfig.path])
            #expect(
                result.output.contains("merchants.1900000109.key_file: \(locked.path) is not readable by this user"),
                "\(result.output)")
        }
    }

    /// Issue 10 defect 11: one merchant's missing key pauses that merchant, not the daemon.
    @Test func runServesTheOtherMerchantsWhenOneKeyIsMissing() async throws {
        let folder = try CLIHarness.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let config = CLIHarness.config(
            in: folder, merchants: ["1900000109", "1900000110"],
            keys: ["1900000109": "short", "1900000110": nil])
        let daemon = try DaemonProcess(
            arguments: ["run", "--config", config.path], environment: [:],
            stderrPath: folder.appendingPathComponent("daemon.log").path)
        try daemon.start()
        let started = try await eventually(timeout: .seconds(30)) {
            daemon.log.contains("closeorderd starting") || !daemon.process.isRunning
        }
        #expect(started && daemon.process.isRunning, "run did not start:\n\(daemon.log)")
        let lines = daemon.log.split(separator: "\n")
        let unavailable = lines.first { $0.contains("level=error") && $0.contains("1900000110") }
        #expect(unavailable?.contains("does not exist") == true, "\(daemon.log)")
        #expect(lines.contains { $0.contains("level=warning") && $0.contains("is 5 characters long") }, "\(daemon.log)")
        daemon.signal(SIGTERM)
        #expect(await daemon.exitStatus() == 0)

        // Every merchant unavailable: nothing to serve, so run still refuses.
        let none = CLIHarness.config(in: folder, merchants: ["1900000110"], keys: ["1900000110": nil])
        let refused = try await CLIHarness.run(["run", "--config", none.path])
        #expect(refused.status == 78, "\(refused.output)")
        #expect(refused.output.contains("1900000110"))
    }
}
