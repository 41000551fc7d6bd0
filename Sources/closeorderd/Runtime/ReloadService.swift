import Logging
import OrderClosing
import ServiceLifecycle
import ServiceSupport
import UnixSignals
import WeChatPayHTTP

/// SIGHUP (`systemctl reload`, the unit's `ExecReload=`): reads the config and keys again and
/// installs the new merchants — a new merchant, a rotated key, a key that came back — without
/// dropping calls in flight. A config that no longer validates is refused, its errors logged, and
/// the running one kept. Settings that need a restart (database, endpoints, timeouts, throughput)
/// are named in a warning instead of being half-applied.
struct ReloadService: Service {
    let signals: UnixSignalsSequence
    let directory: MerchantDirectory
    let running: DaemonConfig
    let notifier: SystemdNotifier
    let logger: Logger
    /// Loads and checks the config as `run` did at start.
    let load: @Sendable () async -> CheckedConfig
    /// Gets the reloaded v3 merchants' keys.
    var router: RoutingGateway? = nil

    func run() async throws {
        for await _ in signals.cancelOnGracefulShutdown() {
            await reload()
        }
    }

    func reload() async {
        _ = notifier.notify("RELOADING=1")
        defer { _ = notifier.ready() }
        logger.notice("reload requested (SIGHUP): reading the config and keys again")
        let checked = await load()
        guard checked.canRun else {
            let problems = checked.configProblems.isEmpty ? ["no merchant has a usable key"] : checked.configProblems
            logger.error("reload refused: the new config is not valid; still running with the previous one: \(problems.joined(separator: "; "))",
                         metadata: ["problems": "\(problems.joined(separator: "; "))"])
            return
        }
        for warning in checked.warnings { logger.warning("\(warning)") }
        router?.replaceV3Merchants(checked.v3Merchants)
        let (added, removed, changed) = directory.replace(profiles: checked.profiles, unavailable: checked.unavailableMerchants)
        let needRestart = Self.settingsNeedingRestart(running, checked.config)
        if !needRestart.isEmpty {
            logger.warning("reload: these settings take effect only after a restart: \(needRestart.joined(separator: ", "))")
        }
        for (mchID, reason) in checked.unavailableMerchants.sorted(by: { $0.key < $1.key }) {
            logger.error("merchant \(mchID) unavailable after reload, its key cannot be used: \(reason)", metadata: ["mch_id": "\(mchID)"])
        }
        func list(_ ids: [String]) -> String { ids.isEmpty ? "none" : ids.joined(separator: ", ") }
        let summary = "reloaded: \(checked.profiles.count) merchant(s) served; added \(list(added)), removed \(list(removed)), "
            + "changed (key, sign type, appids or rate) \(list(changed))"
        logger.notice("\(summary)")
    }

    /// Settings the running daemon was built with that a reload does not change.
    static func settingsNeedingRestart(_ old: DaemonConfig, _ new: DaemonConfig) -> [String] {
        var names: [String] = []
        if old.databasePath != new.databasePath { names.append("database.path") }
        if old.postgres != new.postgres { names.append("database.url / password") }
        if old.gateway != new.gateway { names.append("wechatpay.*") }
        if old.due != new.due { names.append("schedule.min_age_seconds / margin_seconds") }
        if old.closing != new.closing { names.append("schedule / throughput / shutdown") }
        if old.retry != new.retry { names.append("retry.*") }
        if old.retentionKeepDays != new.retentionKeepDays { names.append("retention.keep_days") }
        if old.metricsEnabled != new.metricsEnabled || old.metricsPort != new.metricsPort { names.append("metrics.*") }
        return names
    }
}
