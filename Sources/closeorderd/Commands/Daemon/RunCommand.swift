import ArgumentParser
import Foundation
import Logging
import OrderClosing
import SQLiteOrderStore
import ServiceSupport
import UnixSignals
import WeChatPayHTTP

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the daemon: close due orders until SIGTERM or SIGINT.",
        discussion: """
            Checks the config and keys (as check-config does; exits 78 if the config is wrong or no merchant \
            has a usable key; a merchant whose key is missing or unreadable is logged at error level and \
            paused while the others are served), applies migrations, \
            tells systemd READY=1, then \
            closes orders as they fall due. On SIGTERM/SIGINT it stops claiming, lets in-flight calls finish \
            within shutdown.grace_ms, records them, releases unstarted claims and exits 0.
            """
    )

    @OptionGroup var options: ConfigOptions

    func run() async throws {
        let checked = await CheckedConfig.load(options)
        LoggingBootstrap.bootstrap(format: checked.config.logFormat, level: checked.config.logLevel)
        let logger = Logger(label: "closeorderd")
        for warning in checked.warnings { logger.warning("\(warning)") }
        guard checked.canRun else {
            for problem in checked.problems {
                logger.critical("invalid configuration", metadata: ["problem": "\(problem)"])
                printError("error: \(problem)")
            }
            // EX_CONFIG: the unit's RestartPreventExitStatus=78 stops systemd retrying a bad config.
            throw ExitCode(78)
        }
        for (mchID, reason) in checked.unavailableMerchants.sorted(by: { $0.key < $1.key }) {
            logger.error(
                "merchant \(mchID) unavailable, its key cannot be used; serving the other merchants",
                metadata: ["mch_id": "\(mchID)", "reason": "\(reason)"])
        }
        let notifier = SystemdNotifier()
        let c = checked.config
        let backend = QueueBackend(c)
        var opened = false
        do {
            try await Self.withQueueWaiting(backend, due: c.due, notifier: notifier, logger: logger) { queue in
                opened = true
                if let file = queue.sqliteFile, let mode = try? await file.autoVacuumMode(), mode != .incremental {
                    logger.notice(
                        "retention deletes old finished orders, but this database keeps their pages for reuse instead of giving them back (auto_vacuum \(mode)); run `closeorderd prune --vacuum` once, in a quiet hour, to switch it"
                    )
                }
                // Trap SIGHUP before READY=1, so an early `systemctl reload` cannot kill the daemon.
                let hangups = await UnixSignalsSequence(trapping: .sighup)
                let options = self.options
                let assembly = try DaemonAssembly(
                    config: c, profiles: checked.profiles, store: queue.store,
                    queueServices: queue.services(logger: logger), nudges: queue.nudges,
                    notifier: notifier, logger: logger,
                    reload: (hangups, { await CheckedConfig.load(options) }))
                // The facts operators grep the journal's MESSAGE for, also as fields.
                let backup = c.gateway.backupURL.map { " (backup \($0))" } ?? ""
                let started =
                    "closeorderd starting: version \(CloseOrderD.configuration.version), \(c.merchants.count) merchant(s) "
                    + "\(c.merchants.map(\.mchID).joined(separator: ",")), WeChat Pay at \(c.gateway.primaryURL)\(backup), queue \(backend.display)"
                logger.info(
                    "\(started)",
                    metadata: [
                        "database": "\(backend.display)", "merchants": "\(c.merchants.map(\.mchID).joined(separator: ","))",
                        "endpoint": "\(c.gateway.primaryURL)", "backup": "\(c.gateway.backupURL ?? "off")",
                        "min_age_seconds": "\(c.due.minAgeSeconds)", "concurrency": "\(c.closing.concurrency)",
                        "batch_size": "\(c.closing.batchSize)", "version": "\(CloseOrderD.configuration.version)",
                    ])
                notifier.ready()
                notifier.status("started: \(c.merchants.count) merchant(s)")
                try await assembly.run(logger: logger)
            }
        } catch  where !opened {
            logger.critical(
                "cannot use the database \(backend.display): \(error)",
                metadata: ["error": "\(error)", "database": "\(backend.display)"])
            printError("error: \(error)")
            throw ExitCode(1)
        }
        logger.info("closeorderd stopped")
    }

    /// Opens the queue; a PostgreSQL server that does not accept connections is waited for, its
    /// cause logged at once and again whenever it changes, and shown in `systemctl status`.
    /// SIGTERM is not trapped yet, so a stop ends the wait at once; systemd's TimeoutStartSec
    /// bounds it, and a restart after that is one start in minutes, far from the start limit
    /// (exiting at once, restarted every 5 s, a database down at boot for a minute used it up).
    ///
    /// | try     | 1 | 2 | 3 | 4 | 5  | 6 and later |
    /// |---------|---|---|---|---|----|-------------|
    /// | waits s | 1 | 2 | 4 | 8 | 16 | 30          |
    static func withQueueWaiting(
        _ backend: QueueBackend, due: DuePolicy, notifier: SystemdNotifier, logger: Logger,
        _ body: (OpenedQueue) async throws -> Void
    ) async throws {
        var tries = 0
        var said: String?
        while true {
            do {
                return try await backend.withQueue(.daemon, due: due, logger: logger) { queue in
                    if said != nil { logger.notice("the database \(backend.display) answers again: starting") }
                    try await body(queue)
                }
            } catch let unreachable as QueueBackend.Unreachable {
                let wait = min(30, 1 << min(tries, 5))
                tries += 1
                if unreachable.description != said {
                    logger.error(
                        "waiting for the database: \(unreachable); trying again every \(wait) s up to 30 s",
                        metadata: ["database": "\(backend.display)", "error": "\(unreachable)"])
                    printError("error: \(unreachable) (waiting for it)")
                    said = unreachable.description
                }
                notifier.status("waiting for the database: \(unreachable)")
                try await Task.sleep(for: .seconds(wait))
            }
        }
    }

}
