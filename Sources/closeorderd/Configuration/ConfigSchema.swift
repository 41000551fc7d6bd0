import Logging
import OrderClosing
import ServiceSupport
import WeChatPayHTTP
import WeChatPayV2

/// The config file's keys, their defaults and ranges, in one place (README's reference mirrors it).
enum ConfigSchema {
    static let scalarKeys: Set<String> = [
        "database.path", "database.busy_timeout_ms",
        "wechatpay.primary_url", "wechatpay.backup_url", "wechatpay.failover", "wechatpay.connect_timeout_ms",
        "wechatpay.total_timeout_ms", "wechatpay.probe_interval_ms", "wechatpay.ca_file",
        "schedule.min_age_seconds", "schedule.margin_seconds", "schedule.poll_interval_ms", "schedule.lease_ms",
        "retry.base_delay_ms", "retry.max_delay_ms", "retry.jitter", "retry.max_attempts", "retry.window_seconds",
        "retry.outage_delay_ms",
        "throughput.concurrency", "throughput.batch_size",
        "shutdown.grace_ms",
        "log.format", "log.level",
        "heartbeat.interval_seconds",
        "metrics.enabled", "metrics.host", "metrics.port",
        "retention.keep_days",
        // PostgresDatabaseConfig.keys:
        "database.url", "database.password_file", "database.password_credential",
    ]
    /// `created_at` has whole seconds (an order placed at 12:00:00.9 is written as 12:00:00) and
    /// the daemon's wall clock may step or differ from WeChat's by a second or two; 5 s keeps the
    /// close after WeChat's 5-minute mark in both cases.
    static let defaultMarginSeconds = 5
    static let merchantKeys: Set<String> = Set(["appids", "sign_type", "key_file", "key_credential", "rate_per_second", "burst"])
        .union(V3MerchantConfig.keys)

    static func read(_ r: inout SettingsReader, merchantIDs: [String]) -> DaemonConfig {
        var c = DaemonConfig()
        let path = r.string("database.path")
        c.databasePath = path ?? c.databasePath
        c.postgres = PostgresDatabaseConfig.read(&r, pathGiven: path != nil)
        c.busyTimeoutMs = r.int("database.busy_timeout_ms", c.busyTimeoutMs, in: 0...600_000)

        c.gateway.primaryURL = r.string("wechatpay.primary_url") ?? c.gateway.primaryURL
        c.gateway.backupURL = r.string("wechatpay.backup_url") ?? c.gateway.backupURL
        if !r.bool("wechatpay.failover", true) { c.gateway.backupURL = nil }
        c.gateway.connectTimeoutMs = Int64(
            r.int("wechatpay.connect_timeout_ms", Int(c.gateway.connectTimeoutMs), in: 100...60_000))
        c.gateway.totalTimeoutMs = Int64(r.int("wechatpay.total_timeout_ms", Int(c.gateway.totalTimeoutMs), in: 100...120_000))
        c.gateway.probeIntervalMs = Int64(
            r.int("wechatpay.probe_interval_ms", Int(c.gateway.probeIntervalMs), in: 1_000...3_600_000))
        c.gateway.caFile = r.string("wechatpay.ca_file").flatMap { $0.isEmpty ? nil : $0 }
        r.problems += c.gateway.validate().map { "wechatpay.\($0)" }

        let minAge = r.int("schedule.min_age_seconds", 300, in: 0...86_400)
        let margin = r.int("schedule.margin_seconds", defaultMarginSeconds, in: 0...3_600)
        do {
            c.due = try DuePolicy(minAgeSeconds: Int64(minAge), marginSeconds: Int64(margin))
        } catch {
            r.problems.append("schedule.min_age_seconds: \(error)")
        }
        c.closing.pollIntervalMs = Int64(r.int("schedule.poll_interval_ms", Int(c.closing.pollIntervalMs), in: 50...60_000))
        c.closing.leaseMs = Int64(r.int("schedule.lease_ms", Int(c.closing.leaseMs), in: 1_000...3_600_000))

        c.retry.baseDelayMs = Int64(r.int("retry.base_delay_ms", Int(c.retry.baseDelayMs), in: 100...3_600_000))
        c.retry.maxDelayMs = Int64(r.int("retry.max_delay_ms", Int(c.retry.maxDelayMs), in: 100...86_400_000))
        c.retry.jitter = r.double("retry.jitter", c.retry.jitter, in: 0...0.5)
        c.retry.maxAttempts = r.int("retry.max_attempts", c.retry.maxAttempts, in: 1...1_000)
        c.retry.windowMs = Int64(r.int("retry.window_seconds", Int(c.retry.windowMs / 1000), in: 1...30 * 86_400)) * 1000
        c.retry.outageDelayMs = Int64(r.int("retry.outage_delay_ms", Int(c.retry.outageDelayMs), in: 100...3_600_000))
        if c.retry.maxDelayMs < c.retry.baseDelayMs {
            r.problems.append("retry.max_delay_ms: must be at least retry.base_delay_ms")
        }

        c.closing.concurrency = r.int("throughput.concurrency", c.closing.concurrency, in: 1...4_096)
        c.closing.batchSize = r.int("throughput.batch_size", c.closing.batchSize, in: 1...1_024)
        c.gateway.maxConnections = c.closing.concurrency
        c.closing.shutdownGraceMs = Int64(r.int("shutdown.grace_ms", Int(c.closing.shutdownGraceMs), in: 0...600_000))

        c.logFormat = r.choice("log.format", c.logFormat, LogFormat.init(rawValue:), expected: "auto, logfmt, json, journal")
        c.logLevel = r.choice(
            "log.level", c.logLevel, Logger.Level.init(rawValue:),
            expected: "trace, debug, info, notice, warning, error, critical")
        c.heartbeatSeconds = r.int("heartbeat.interval_seconds", c.heartbeatSeconds, in: 1...86_400)
        c.metricsEnabled = r.bool("metrics.enabled", false)
        c.metricsHost = r.string("metrics.host") ?? c.metricsHost
        c.metricsPort = r.int("metrics.port", c.metricsPort, in: 1...65_535)
        if c.metricsEnabled, !["127.0.0.1", "::1", "localhost"].contains(c.metricsHost) {
            r.problems.append("metrics.host: must be a loopback address (127.0.0.1, ::1 or localhost)")
        }

        // Whole days, at least 1 (0 would delete an order as it finishes, before the app reads its
        // outcome); at most 100 years, which is how to keep everything.
        c.retentionKeepDays = r.int("retention.keep_days", c.retentionKeepDays, in: 1...36_500)

        c.merchants = merchantIDs.compactMap { readMerchant(&r, $0) }
        if merchantIDs.isEmpty { r.problems.append("merchants: no merchant is configured") }
        return c
    }

    static func readMerchant(_ r: inout SettingsReader, _ mchID: String) -> MerchantConfig? {
        let prefix = "merchants.\(mchID)"
        let before = r.problems.count
        if mchID.isEmpty || mchID.count > 32 || !mchID.allSatisfy(\.isNumber) {
            r.problems.append("\(prefix): a mch_id is 1–32 digits")
        }
        let appIDs = r.strings("\(prefix).appids") ?? []
        if appIDs.isEmpty { r.problems.append("\(prefix).appids: at least one appid is required") }
        for appID in appIDs where appID.isEmpty || appID.count > 32 {
            r.problems.append("\(prefix).appids: \"\(appID)\" is not a valid appid (1–32 characters)")
        }
        let api = r.choice(
            "\(prefix).api", MerchantAPI.v2, { name in [MerchantAPI.v2, .v3].first { $0.rawValue == name } }, expected: "v2, v3")
        if api == .v3 {
            let v3 = V3MerchantConfig.read(&r, prefix: prefix)
            let rate = r.double("\(prefix).rate_per_second", 100, in: 0.01...100_000)
            let burst = r.double("\(prefix).burst", max(rate, 1), in: 1...100_000)
            guard r.problems.count == before, let v3 else { return nil }
            return MerchantConfig(
                mchID: mchID, appIDs: appIDs, signType: .hmacSHA256, keySource: v3.privateKey,
                ratePerSecond: rate, burst: burst, v3: v3)
        }
        for key in V3MerchantConfig.v3OnlyKeys.sorted() where r.string("\(prefix).\(key)") != nil {
            r.problems.append("\(prefix).\(key): an API v3 setting; set \"api\": \"v3\" for this merchant, or remove it")
        }
        let signType = r.choice(
            "\(prefix).sign_type", SignType.hmacSHA256, SignType.init(rawValue:), expected: "MD5, HMAC-SHA256")
        let keyFile = r.string("\(prefix).key_file").flatMap { $0.isEmpty ? nil : $0 }
        let credential = r.string("\(prefix).key_credential").flatMap { $0.isEmpty ? nil : $0 }
        var source: MerchantConfig.KeySource?
        switch (keyFile, credential) {
        case (let file?, nil):
            if !file.hasPrefix("/") { r.problems.append("\(prefix).key_file: must be an absolute path") }
            source = .file(file)
        case (nil, let name?):
            if name.contains("/") { r.problems.append("\(prefix).key_credential: a credential name has no '/'") }
            source = .credential(name)
        case (.some, .some):
            r.problems.append("\(prefix): set key_file or key_credential, not both")
        case (nil, nil):
            r.problems.append("\(prefix): set key_file or key_credential (the API key is never taken from the config or argv)")
        }
        let rate = r.double("\(prefix).rate_per_second", 100, in: 0.01...100_000)
        let burst = r.double("\(prefix).burst", max(rate, 1), in: 1...100_000)
        guard r.problems.count == before, let source else { return nil }
        return MerchantConfig(
            mchID: mchID, appIDs: appIDs, signType: signType, keySource: source, ratePerSecond: rate, burst: burst)
    }
}
