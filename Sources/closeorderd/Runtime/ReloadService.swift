import Logging
import OrderClosing
import ServiceLifecycle
import ServiceSupport
import UnixSignals
import WeChatPayHTTP

/// SIGHUP (`systemctl reload`, the unit's `ExecReload=`): reads the config and keys again and
/// installs the new merchants — a new merchant, a rotated key, a key that came back — without
/// dropping calls in flight. A config that no longer validates is refused, its errors logged, and
/// the running one kept. Only the merchants (keys, sign type, appids, rates) are applied; every
/// other setting that changed is named, key by key, in a warning and in the summary line, as
/// needing a restart, instead of being half-applied or passed over in silence.
///
/// Keys are read from their files again (`CredentialFiles`): on Debian 12's systemd 252 the
/// `LoadCredential=` copies are never refreshed on reload, so the unit's sources are read.
struct ReloadService: Service {
    let signals: UnixSignalsSequence
    let directory: MerchantDirectory
    let running: DaemonConfig
    let notifier: SystemdNotifier
    let logger: Logger
    /// Loads and checks the config as `run` did at start.
    let load: @Sendable () async -> CheckedConfig

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
            logger.error(
                "reload refused: the new config is not valid; still running with the previous one: \(problems.joined(separator: "; "))",
                metadata: ["problems": "\(problems.joined(separator: "; "))"])
            return
        }
        for warning in checked.warnings { logger.warning("\(warning)") }
        let (added, removed, changed) = directory.replace(profiles: checked.profiles, unavailable: checked.unavailableMerchants)
        let needRestart = Self.settingsNeedingRestart(running, checked.config)
        if !needRestart.isEmpty {
            let names = needRestart.joined(separator: ", ")
            logger.warning(
                "reload: changed settings not applied, they take effect only after a restart (systemctl restart closeorderd): \(names)"
            )
        }
        for (mchID, reason) in checked.unavailableMerchants.sorted(by: { $0.key < $1.key }) {
            logger.error(
                "merchant \(mchID) unavailable after reload, its key cannot be used: \(reason)", metadata: ["mch_id": "\(mchID)"])
        }
        func list(_ ids: [String]) -> String { ids.isEmpty ? "none" : ids.joined(separator: ", ") }
        let summary =
            "reloaded: \(checked.profiles.count) merchant(s) served; added \(list(added)), removed \(list(removed)), "
            + "changed (key, sign type, appids or rate) \(list(changed)); not applied, need a restart: \(list(needRestart))"
        logger.notice("\(summary)")
    }

    /// The config keys whose value differs from the one the running daemon was built with (all
    /// but the merchants: `DaemonConfig.restartOnlySettings`), sorted.
    static func settingsNeedingRestart(_ old: DaemonConfig, _ new: DaemonConfig) -> [String] {
        let before = old.restartOnlySettings
        let after = new.restartOnlySettings
        return before.keys.filter { before[$0] != after[$0] }.sorted()
    }
}
