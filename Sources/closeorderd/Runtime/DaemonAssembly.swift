import ArgumentParser
import Foundation
import Logging
import Metrics
import OrderClosing
import Prometheus
import ServiceLifecycle
import ServiceSupport
import UnixSignals
import WeChatPayHTTP

/// Wires the daemon from a checked config: one database pool, one HTTP client, the gateway, the
/// closing loop and its companions, in the order a `ServiceGroup` should shut them down.
struct DaemonAssembly {
    let http: WeChatPayHTTPClient
    let gateway: WeChatPayHTTPGateway
    /// v2 or v3 per merchant; the worker's gateway.
    let router: RoutingGateway
    let store: any OrderStore
    let services: [any Service]
    /// `shutdown.grace_ms`: with `shutdownMargin`, the longest a stop may take (see `run`).
    let shutdownGraceMs: Int64

    /// - Parameters:
    ///   - store: the queue (SQLite, or PostgreSQL whose pool the caller runs).
    ///   - queueServices: what the queue runs beside the loop (PostgreSQL's LISTEN), and `nudges`, its wake-ups.
    ///   - reload: SIGHUP's trap and how to load the config again; nil where nothing reloads (the demo).
    init(
        config: DaemonConfig, profiles: [MerchantProfile], store: any OrderStore,
        queueServices: [any Service] = [],
        nudges: QueueNudges? = nil, clock: any OrderClock = SystemOrderClock(),
        notifier: SystemdNotifier, logger: Logger, events: ClosingEvents = ClosingEvents(),
        reload: (signals: UnixSignalsSequence, load: @Sendable () async -> CheckedConfig)? = nil
    ) throws {
        // One transport, so v2 and v3 merchants share one failover state (WeChatPayTransport says why).
        http = try WeChatPayHTTPClient(settings: config.gateway, clock: clock, logger: logger)
        let transport = http.transport
        gateway = WeChatPayHTTPGateway(transport: transport)
        router = RoutingGateway(adapters: [.v2: gateway, .v3: WeChatPayV3HTTPGateway(transport: transport)])
        self.store = store
        shutdownGraceMs = config.closing.shutdownGraceMs
        var settings = config.closing
        settings.attemptMs = config.timeBudget.attemptMs
        // host:pid:instance — the instance part keeps a restarted daemon that got the same pid (a
        // container) from mistaking a dead predecessor's leases for its own.
        settings.owner = "\(ProcessInfo.processInfo.hostName):\(getpid()):\(UUID().uuidString.prefix(8).lowercased())"
        let directory = MerchantDirectory(profiles: profiles, unavailable: config.unavailableMerchants)
        let closer = OrderCloser(gateway: router, clock: clock, directory: directory, retry: config.retry, logger: logger)
        // Retention works only while the loop is idle; the loop says so through its events.
        let activity = LoopActivity()
        let closing = ClosingService(
            store: store, closer: closer, clock: clock, settings: settings, directory: directory,
            logger: logger, events: activity.observing(events), nudges: nudges)
        let retention = RetentionService(
            store: store, clock: clock, settings: RetentionSchedule.Settings(keepDays: config.retentionKeepDays),
            activity: activity, logger: logger)
        let me = DaemonRecord(
            owner: settings.owner, host: ProcessInfo.processInfo.hostName, pid: getpid(), bootID: Self.bootID(),
            version: CloseOrderD.configuration.version, startedMs: clock.now(), intervalSeconds: config.heartbeatSeconds)
        let rescuer = LeaseRescuer(
            store: store, clock: clock, me: me, leaseMs: settings.leaseMs, logger: logger,
            isAlive: { pid in kill(pid, 0) == 0 || errno == EPERM })
        let heartbeat = HeartbeatService(
            store: store, gateway: gateway, clock: clock, notifier: notifier, me: me,
            intervalSeconds: config.heartbeatSeconds, logger: logger)
        // Shut down in reverse: stop claiming first, keep the watchdog fed until the very end.
        var services: [any Service] = [SystemdLifecycleService(notifier: notifier), WatchdogService(notifier: notifier)]
        if config.metricsEnabled {
            let registry = PrometheusCollectorRegistry()
            MetricsSystem.bootstrap(DocumentedMetricsFactory(registry: registry))
            ClosingMetrics.start(
                merchants: (profiles.map(\.mchID) + config.unavailableMerchants.keys).sorted(),
                endpoints: [config.gateway.primaryURL] + (config.gateway.backupURL.map { [$0] } ?? []))
            services.append(
                MetricsService(registry: registry, host: config.metricsHost, port: config.metricsPort, logger: logger))
        }
        if let reload {
            services.append(
                ReloadService(
                    signals: reload.signals, directory: directory, running: config, notifier: notifier,
                    logger: logger, load: reload.load))
        }
        self.services = services + queueServices + [heartbeat, retention, rescuer, closing]
    }

    /// The kernel's boot id: a pid means nothing across a reboot.
    static func bootID() -> String {
        (try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? "unknown"
    }

    /// The closing loop ends the group when it returns; the helpers may end early on their own
    /// (no watchdog configured) without taking the daemon down.
    var serviceConfigurations: [ServiceGroupConfiguration.ServiceConfiguration] {
        services.enumerated().map { index, service in
            let isClosingLoop = index == services.count - 1
            return .init(
                service: service,
                successTerminationBehavior: isClosingLoop ? .gracefullyShutdownGroup : .ignore,
                failureTerminationBehavior: .gracefullyShutdownGroup)
        }
    }

    /// After the grace period, what the stop may still take: the last writes' one try, the
    /// HTTP client's shutdown. The unit's TimeoutStopSec (30 s) must exceed grace + margin.
    static let shutdownMargin = Duration.seconds(2)

    /// Runs until SIGTERM/SIGINT has drained the loop, and no longer than the grace period plus
    /// `shutdownMargin` after the signal: a database that does not answer (an outage, a connection
    /// postgres-nio never answers on) cannot hold the stop. What was not written by then stays for
    /// a later daemon (leases expire and are rescued; the heartbeat row shows as stale).
    ///
    /// | signal, then                        | exit                                             |
    /// |-------------------------------------|--------------------------------------------------|
    /// | the group drains within the limit   | when it has drained                              |
    /// | a wait on the database outlasts it  | at grace + 2 s, logging what was left undone     |
    func run(logger: Logger) async throws {
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: serviceConfigurations,
                gracefulShutdownSignals: [.sigterm, .sigint],
                cancellationSignals: [],
                logger: logger))
        let limit = Duration.milliseconds(shutdownGraceMs) + Self.shutdownMargin
        let signals = await UnixSignalsSequence(trapping: .sigterm, .sigint)
        let (outcomes, report) = AsyncStream.makeStream(of: StopOutcome.self)
        let running = Task {
            do {
                try await group.run()
                report.yield(.drained(nil))
            } catch { report.yield(.drained(error)) }
        }
        let watch = Task {
            for await _ in signals {
                do { try await Task.sleep(for: limit) } catch { return }
                report.yield(.overdue)
                return
            }
        }
        var iterator = outcomes.makeAsyncIterator()
        let outcome = await iterator.next()
        watch.cancel()
        switch outcome {
        case .drained(let error?):
            try? await http.shutdown()
            throw error
        case .overdue:
            logger.error(
                "stopping: still waiting on the database \(limit) after the signal (shutdown.grace_ms \(shutdownGraceMs) + \(Self.shutdownMargin)); exiting without the last writes: in-flight orders stay leased until their lease expires, and this daemon's heartbeat row stays until a later daemon removes it"
            )
            running.cancel()
            try? await http.shutdown()
        case .drained(nil), nil:
            try await http.shutdown()
        }
    }
}

/// How `DaemonAssembly.run` ended: the group drained (with its error), or the stop took too long.
private enum StopOutcome: Sendable {
    case drained((any Error)?)
    case overdue
}

/// Sends STOPPING=1 as soon as a graceful shutdown starts.
struct SystemdLifecycleService: Service {
    let notifier: SystemdNotifier

    func run() async throws {
        try? await gracefulShutdown()
        notifier.stopping()
    }
}
