import Logging
import OrderClosing
import ServiceSupport
import WeChatPayHTTP
import WeChatPayV2

/// Everything `closeorderd run` needs, validated. Built by `ConfigLoader`; secrets are not in it,
/// only where to read them (`MerchantConfig.keySource`).
struct DaemonConfig: Sendable {
    var databasePath = "/var/lib/closeorderd/orders.sqlite"
    /// `database.url`: the queue on PostgreSQL instead of the SQLite file at `databasePath`.
    var postgres: PostgresDatabaseConfig?
    var busyTimeoutMs = 5_000
    var gateway = GatewaySettings()
    var due = try! DuePolicy(marginSeconds: Int64(ConfigSchema.defaultMarginSeconds))
    var retry = RetryPolicy()
    var closing = ClosingSettings()
    var logFormat = LogFormat.auto
    var logLevel = Logger.Level.info
    var heartbeatSeconds = 60
    var metricsEnabled = false
    var metricsHost = "127.0.0.1"
    var metricsPort = 9464
    /// Finished orders (closed, paid, failed) are deleted, with their attempts, this many days
    /// after they finished (`RetentionService`).
    var retentionKeepDays = 30
    var merchants: [MerchantConfig] = []
    /// mch_id → why its key cannot be used (missing, unreadable, malformed), in words. `run`
    /// serves the other merchants and pauses these; `check-config` refuses.
    var unavailableMerchants: [String: String] = [:]

    /// Every setting but the merchants, by config key, as a comparable text: the daemon is built
    /// from these at start, and a reload applies none of them (`ReloadService` names those that
    /// changed). Values are for comparing, never printed (a path may be, a password never is here).
    var restartOnlySettings: [String: String] {
        let g = gateway
        let c = closing
        let r = retry
        return [
            "database.path": postgres == nil ? databasePath : "",
            "database.url": postgres.map { "\($0.url)" } ?? "",
            "database.password_file / password_credential": postgres?.password.map { "\($0)" } ?? "",
            "database.busy_timeout_ms": "\(busyTimeoutMs)",
            "wechatpay.primary_url": g.primaryURL,
            "wechatpay.backup_url / failover": g.backupURL ?? "",
            "wechatpay.connect_timeout_ms": "\(g.connectTimeoutMs)",
            "wechatpay.total_timeout_ms": "\(g.totalTimeoutMs)",
            "wechatpay.probe_interval_ms": "\(g.probeIntervalMs)",
            "wechatpay.ca_file": g.caFile ?? "",
            "schedule.min_age_seconds": "\(due.minAgeSeconds)",
            "schedule.margin_seconds": "\(due.marginSeconds)",
            "schedule.poll_interval_ms": "\(c.pollIntervalMs)",
            "schedule.lease_ms": "\(c.leaseMs)",
            "retry.base_delay_ms": "\(r.baseDelayMs)",
            "retry.max_delay_ms": "\(r.maxDelayMs)",
            "retry.jitter": "\(r.jitter)",
            "retry.max_attempts": "\(r.maxAttempts)",
            "retry.window_seconds": "\(r.windowMs)",
            "retry.outage_delay_ms": "\(r.outageDelayMs)",
            "throughput.concurrency": "\(c.concurrency)",
            "throughput.batch_size": "\(c.batchSize)",
            "shutdown.grace_ms": "\(c.shutdownGraceMs)",
            "log.format": logFormat.rawValue,
            "log.level": logLevel.rawValue,
            "heartbeat.interval_seconds": "\(heartbeatSeconds)",
            "metrics.enabled": "\(metricsEnabled)",
            "metrics.host": metricsHost,
            "metrics.port": "\(metricsPort)",
            "retention.keep_days": "\(retentionKeepDays)",
        ]
    }

    /// The worst case from claim to outcome, against the lease and the grace period.
    var timeBudget: TimeBudget {
        TimeBudget(
            connectTimeoutMs: gateway.connectTimeoutMs, totalTimeoutMs: gateway.totalTimeoutMs,
            failover: gateway.backupURL != nil, leaseMs: closing.leaseMs, shutdownGraceMs: closing.shutdownGraceMs)
    }
}

/// One merchant as configured: ids, sign type, limits, and where its key lives.
struct MerchantConfig: Sendable, Hashable {
    enum KeySource: Sendable, Hashable, CustomStringConvertible {
        case file(String)
        /// A name under `$CREDENTIALS_DIRECTORY` (systemd `LoadCredential=`).
        case credential(String)

        var description: String {
            switch self {
            case .file(let path): "key_file \(path)"
            case .credential(let name): "key_credential \(name)"
            }
        }
    }

    var mchID: String
    var appIDs: [String]
    var signType: SignType
    var keySource: KeySource
    var ratePerSecond: Double
    var burst: Double
    /// Set for a merchant on API v3 (`"api": "v3"`); `keySource` is then its private key's.
    var v3: V3MerchantConfig? = nil
}
