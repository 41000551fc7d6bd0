import Logging
import ServiceLifecycle

/// Deletes finished orders older than `retention.keep_days`, with their attempts, and gives the
/// space back — in small, spaced transactions, only while the closing loop is idle, so neither
/// due orders nor the merchant's INSERTs wait for it. `RetentionSchedule` decides what to do and
/// when; this service does it, counts pruned orders (`closeorderd_orders_pruned_total`) and writes
/// one journal line per round that deleted something.
public struct RetentionService: Service {
    let store: any OrderStore
    let clock: any OrderClock
    let settings: RetentionSchedule.Settings
    let activity: LoopActivity
    let logger: Logger
    /// Called with every round that ended (for tests that wait on it instead of sleeping).
    let onRound: (@Sendable (RetentionSchedule.Round) -> Void)?

    public init(
        store: any OrderStore, clock: any OrderClock, settings: RetentionSchedule.Settings, activity: LoopActivity,
        logger: Logger, onRound: (@Sendable (RetentionSchedule.Round) -> Void)? = nil
    ) {
        self.store = store
        self.clock = clock
        self.settings = settings
        self.activity = activity
        self.logger = logger
        self.onRound = onRound
    }

    public func run() async throws {
        var schedule = RetentionSchedule(settings: settings, now: clock.now())
        let step = RetentionStep(store: store, clock: clock)
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            let finished: RetentionSchedule.Round?
            do {
                finished = try await step.run(&schedule, idle: activity.isIdle) { until in
                    try await cancelWhenGracefulShutdown { try await clock.sleep(until: until) }
                }
            } catch let failure as RetentionStep.Failure {
                logger.error("retention: \(failure.doing); will try again", metadata: ["error": "\(failure.error)"])
                finished = schedule.failed(now: clock.now())
            } catch {
                return  // the wait ended: cancelled, or a graceful shutdown
            }
            if let finished { report(finished) }
        }
    }

    /// One line per round that deleted something; an empty round is logged at debug only.
    func report(_ round: RetentionSchedule.Round) {
        onRound?(round)
        let metadata: Logger.Metadata = [
            "pruned": .stringConvertible(round.pruned.total), "pruned_attempts": .stringConvertible(round.pruned.attempts),
            "closed": .stringConvertible(round.pruned.orders[.closed] ?? 0),
            "paid": .stringConvertible(round.pruned.orders[.paid] ?? 0),
            "failed": .stringConvertible(round.pruned.orders[.failed] ?? 0), "batches": .stringConvertible(round.batches),
            "cutoff": "\(TimeText.iso8601(round.cutoff))", "free_pages_left": .stringConvertible(round.freePagesLeft),
            "duration_ms": .stringConvertible(round.endedAt - round.startedAt), "busy_ms": .stringConvertible(round.busyMs),
        ]
        guard round.pruned.total > 0 else {
            logger.debug("retention: no finished order older than \(TimeText.iso8601(round.cutoff))", metadata: metadata)
            return
        }
        let space = round.freePagesLeft > 0 ? "; \(round.freePagesLeft) free page(s) left to give back" : ""
        logger.info(
            """
            retention: deleted \(round.pruned.total) finished order(s) (\(round.pruned.byStatus)) finished before \
            \(TimeText.iso8601(round.cutoff)), with their \(round.pruned.attempts) attempt(s), in \(round.batches) batch(es) \
            over \((round.endedAt - round.startedAt) / 1000) s\(space)
            """, metadata: metadata)
    }
}
