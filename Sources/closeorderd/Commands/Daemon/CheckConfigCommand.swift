import ArgumentParser
import Foundation
import Logging
import OrderClosing
import PostgresOrderStore
import ServiceSupport
import WeChatPayHTTP
import WeChatPayV2

struct CheckConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Validate the configuration and the API key files, naming each bad key.",
        discussion: """
            Reads the config file and CLOSEORDERD_* environment overrides exactly as `run` does, reads each \
            merchant's key file or credential, and prints the effective settings with keys redacted. \
            Exits 1 if anything is wrong; `run` refuses to start with the same messages, except that a \
            merchant whose key is missing or unreadable only pauses that merchant there. \
            With --online it also connects to a PostgreSQL database.url and says why not if it cannot, \
            and asks WeChat Pay (wechatpay.primary_url) about a made-up order per merchant: \
            ORDERNOTEXIST means the key works, a signature error means it does not.
            """
    )

    @OptionGroup var options: ConfigOptions
    @Flag(help: "Also ask WeChat Pay about a made-up order per merchant, to prove each key (an order query changes nothing).")
    var online = false

    func run() async throws {
        let checked = await CheckedConfig.load(options)
        for warning in checked.warnings { printError("warning: \(warning)") }
        guard checked.problems.isEmpty else {
            for problem in checked.problems { printError("error: \(problem)") }
            printError("check-config: \(checked.problems.count) problem(s) in \(checked.source)")
            throw ExitCode(1)
        }
        print(checked.summary())
        if online {
            // PostgreSQL first: a wrong port or password is said here in words, not at `run`. (A
            // SQLite file `run` creates; its folder is checked above.)
            var databaseProblem: String?
            let backend = QueueBackend(checked.config)
            if case .postgres = backend {
                var logger = Logger(label: "closeorderd")
                logger.logLevel = .error
                databaseProblem = await backend.connectionProblem(logger: logger)
                print("database \(backend.display): \(databaseProblem.map { "FAILED: \($0)" } ?? "OK")")
            }
            let results = try await OnlineCheck(settings: checked.config.gateway).run(checked.profiles)
            for result in results { print("merchant \(result.mchID): \(result.ok ? "OK" : "FAILED"): \(shown(result.verdict))") }
            let failed = results.filter { !$0.ok }.count
            if failed > 0 { printError("check-config: \(failed) merchant(s) failed the online check") }
            if databaseProblem != nil { printError("check-config: the database failed the online check") }
            guard failed == 0, databaseProblem == nil else { throw ExitCode(1) }
        }
        print("check-config: OK (\(checked.source))")
    }
}

/// Config plus loaded keys, or the list of what is wrong with them.
struct CheckedConfig {
    var config: DaemonConfig
    var profiles: [MerchantProfile]
    /// What is wrong with the config itself; `run` refuses to start.
    var configProblems: [String]
    var warnings: [String]
    var source: String
    /// The v3 merchants' handles (mch_id → keys), for the fake's command.
    var v3Merchants: [String: V3Merchant] {
        Dictionary(profiles.compactMap { ($0.merchant as? V3Merchant).map { ($0.mchID, $0) } }, uniquingKeysWith: { $1 })
    }

    /// Merchants whose key cannot be used: `run` serves the others, `check-config` refuses.
    var unavailableMerchants: [String: String] { config.unavailableMerchants }

    /// Everything `check-config` reports as an error: the config's problems, then each unusable key.
    var problems: [String] {
        configProblems + unavailableMerchants.sorted { $0.key < $1.key }.map(\.value)
    }

    /// `run` starts when the config is valid and at least one merchant has a usable key.
    var canRun: Bool { configProblems.isEmpty && !profiles.isEmpty }

    static func load(_ options: ConfigOptions, environment: [String: String] = ProcessInfo.processInfo.environment) async
        -> CheckedConfig
    {
        let loader = ConfigLoader(path: options.config, environment: environment)
        var loaded = await loader.load()
        if let database = options.database {
            // --database names a SQLite file, whatever the config's database.url says.
            loaded.config.databasePath = database
            loaded.config.postgres = nil
        }
        let keys = KeyLoader.load(
            loaded.config.merchants, credentials: CredentialFiles(configPath: loader.path, environment: environment))
        loaded.config.unavailableMerchants = keys.unavailable
        return CheckedConfig(
            config: loaded.config, profiles: keys.profiles, configProblems: loaded.problems,
            warnings: loaded.warnings + keys.warnings, source: loader.path ?? "defaults and environment")
    }

    /// The effective settings, secrets redacted (only where each key comes from is shown).
    func summary() -> String {
        let c = config
        var lines = [
            c.postgres.map {
                "database.url = \($0.url.display), password \($0.password.map { "<redacted> from \($0)" } ?? "none")"
            }
                ?? "database.path = \(c.databasePath)",
            "wechatpay.primary_url = \(c.gateway.primaryURL)",
            "wechatpay.backup_url = \(c.gateway.backupURL ?? "(failover off)")",
            "wechatpay.timeouts = connect \(c.gateway.connectTimeoutMs) ms, total \(c.gateway.totalTimeoutMs) ms",
            "schedule.min_age_seconds = \(c.due.minAgeSeconds), margin \(c.due.marginSeconds) s",
            "retry = base \(c.retry.baseDelayMs) ms, max \(c.retry.maxDelayMs) ms, \(c.retry.maxAttempts) attempts, window \(c.retry.windowMs / 1000) s",
            "throughput = concurrency \(c.closing.concurrency), batch \(c.closing.batchSize)",
            "log = \(c.logFormat.rawValue), \(c.logLevel.rawValue)",
            "metrics = \(c.metricsEnabled ? "\(c.metricsHost):\(c.metricsPort)" : "off")",
            "retention.keep_days = \(c.retentionKeepDays) (finished orders and their attempts are deleted \(c.retentionKeepDays) day(s) after they finish)",
        ]
        for merchant in c.merchants {
            if let v3 = merchant.v3 {
                lines.append(
                    "merchant \(merchant.mchID): API v3, appids \(merchant.appIDs.joined(separator: ",")), private key <redacted> from \(v3.privateKey), certificate serial \(v3.certificateSerial), verifies with \(v3.verification), \(merchant.ratePerSecond)/s"
                )
                continue
            }
            lines.append(
                "merchant \(merchant.mchID): appids \(merchant.appIDs.joined(separator: ",")), \(merchant.signType.rawValue), key <redacted> from \(merchant.keySource), \(merchant.ratePerSecond)/s"
            )
        }
        return lines.joined(separator: "\n")
    }
}

func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}
