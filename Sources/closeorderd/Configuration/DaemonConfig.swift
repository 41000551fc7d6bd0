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

    /// The worst case from claim to outcome, against the lease and the grace period.
    var timeBudget: TimeBudget {
        TimeBudget(connectTimeoutMs: gateway.connectTimeoutMs, totalTimeoutMs: gateway.totalTimeoutMs,
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
