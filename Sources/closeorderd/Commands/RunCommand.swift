import ArgumentParser
import Foundation
import GRDB
import Logging
import OrderClosing
import SQLiteOrderStore
import ServiceSupport
import UnixSignals

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
            logger.error("merchant \(mchID) unavailable, its key cannot be used; serving the other merchants",
                         metadata: ["mch_id": "\(mchID)", "reason": "\(reason)"])
        }
        let notifier = SystemdNotifier()
        let opened: OpenedQueue
        do {
            opened = try await OpenedQueue.open(checked.config, migrate: true, logger: logger)
        } catch {
            logger.critical("cannot use the database \(checked.config.databaseDisplay): \(error)", metadata: ["error": "\(error)", "database": "\(checked.config.databaseDisplay)"])
            printError("error: \(error)")
            throw ExitCode(1)
        }
        defer { opened.close() }
        if let pool = opened.sqlite, let mode = try? await pool.read({ try SQLiteDatabase.autoVacuumMode($0) }), mode != .incremental {
            logger.notice("retention deletes old finished orders, but this database keeps their pages for reuse instead of giving them back (auto_vacuum \(mode)); run `closeorderd prune --vacuum` once, in a quiet hour, to switch it")
        }
        // Trap SIGHUP before READY=1, so an early `systemctl reload` cannot kill the daemon.
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        let options = self.options
        let assembly = try DaemonAssembly(config: checked.config, profiles: checked.profiles, v3Merchants: checked.v3Merchants, store: opened.store,
                                          queueServices: opened.services(logger: logger), nudges: opened.nudges,
                                          notifier: notifier, logger: logger,
                                          reload: (hangups, { await CheckedConfig.load(options) }))
        let c = checked.config
        // The facts operators grep the journal's MESSAGE for, also as fields.
        let backup = c.gateway.backupURL.map { " (backup \($0))" } ?? ""
        let started = "closeorderd starting: version \(CloseOrderD.configuration.version), \(c.merchants.count) merchant(s) "
            + "\(c.merchants.map(\.mchID).joined(separator: ",")), WeChat Pay at \(c.gateway.primaryURL)\(backup), queue \(c.databaseDisplay)"
        logger.info("\(started)", metadata: [
            "database": "\(c.databaseDisplay)", "merchants": "\(c.merchants.map(\.mchID).joined(separator: ","))",
            "endpoint": "\(c.gateway.primaryURL)", "backup": "\(c.gateway.backupURL ?? "off")",
            "min_age_seconds": "\(c.due.minAgeSeconds)", "concurrency": "\(c.closing.concurrency)",
            "batch_size": "\(c.closing.batchSize)", "version": "\(CloseOrderD.configuration.version)",
        ])
        notifier.ready()
        notifier.status("started: \(c.merchants.count) merchant(s)")
        try await assembly.run(logger: logger)
        logger.info("closeorderd stopped")
    }
}
