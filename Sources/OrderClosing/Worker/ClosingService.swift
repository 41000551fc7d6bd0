import Logging
import ServiceLifecycle

/// The daemon's loop: claim due orders in batches, work them with bounded concurrency and a
/// per-merchant rate limit, write their outcomes in batches, and sleep until the next due time.
///
/// On graceful shutdown it stops claiming, gives in-flight calls `shutdownGraceMs` to finish and
/// records them, gives back claims that never started, and returns.
public struct ClosingService: Service {
    let store: any OrderStore
    let closer: OrderCloser
    let clock: any OrderClock
    let settings: ClosingSettings
    let merchants: [MerchantProfile]
    let logger: Logger
    let events: ClosingEvents

    public init(store: any OrderStore, closer: OrderCloser, clock: any OrderClock, settings: ClosingSettings,
                merchants: [MerchantProfile], logger: Logger, events: ClosingEvents = ClosingEvents()) {
        self.store = store
        self.closer = closer
        self.clock = clock
        self.settings = settings
        self.merchants = merchants
        self.logger = logger
        self.events = events
    }

    enum ChildResult: Sendable {
        case done(OrderWrite, OrderCloser.CircuitSignal)
        case unstarted(ClaimedOrder)
        case wake
        case graceOver
    }

    public func run() async throws {
        var state = LoopState(merchants: merchants)
        _ = try await store.rescueExpiredLeases(now: clock.now())
        var nextRescue = clock.now() + settings.leaseMs / 2

        try await withThrowingTaskGroup(of: ChildResult.self) { group in
            var inFlight = 0
            var wakerRunning = false
            var stopping = false
            var graceArmed = false
            // Wakes the loop on SIGTERM even when every slot is busy with a long call.
            group.addTask {
                try? await gracefulShutdown()
                return .wake
            }

            while true {
                if !stopping, Task.isShuttingDownGracefully || Task.isCancelled {
                    stopping = true
                    logger.info("stopping: no new claims; draining in-flight calls", metadata: ["in_flight": "\(inFlight)"])
                }
                if stopping {
                    if inFlight == 0 { break }
                    if !graceArmed {
                        graceArmed = true
                        let deadline = clock.now() + settings.shutdownGraceMs
                        group.addTask { [clock] in
                            try? await clock.sleep(until: deadline)
                            return .graceOver
                        }
                        try await flush(&state)
                    }
                } else {
                    let now = clock.now()
                    if now >= nextRescue {
                        let rescued = try await store.rescueExpiredLeases(now: now)
                        if rescued > 0 { logger.warning("rescued orders whose lease expired (in doubt)", metadata: ["count": "\(rescued)"]) }
                        nextRescue = now + settings.leaseMs / 2
                    }
                    var free = settings.concurrency - inFlight
                    if free >= min(settings.batchSize, settings.concurrency) || inFlight == 0 {
                        try await flush(&state)
                        let excluded = state.excludedMerchants(now: now, logger: logger)
                        while free > 0, let due = try await store.nextDueTime(excludedMerchants: excluded), due <= clock.now() {
                            let now = clock.now()
                            let claimed = try await store.claimDue(now: now, limit: min(free, settings.batchSize),
                                                                   excludedMerchants: excluded, leaseOwner: settings.owner,
                                                                   leaseUntil: now + settings.leaseMs)
                            if claimed.isEmpty { break }
                            for order in claimed {
                                let startAt = state.reserveToken(for: order.mchID, now: now)
                                group.addTask { [closer, clock] in
                                    if startAt > now {
                                        // Waiting for the merchant's rate limit: a shutdown gives the claim back.
                                        do {
                                            try await cancelWhenGracefulShutdown { try await clock.sleep(until: startAt) }
                                        } catch {
                                            return .unstarted(order)
                                        }
                                    }
                                    if Task.isCancelled { return .unstarted(order) }
                                    let (write, signal) = await closer.process(order)
                                    return .done(write, signal)
                                }
                            }
                            inFlight += claimed.count
                            free -= claimed.count
                            events.claimed(claimed.count)
                        }
                    }
                    if !wakerRunning, inFlight < settings.concurrency {
                        let excluded = state.excludedMerchants(now: clock.now(), logger: logger)
                        let due = try await store.nextDueTime(excludedMerchants: excluded)
                        var wakeAt = min(due ?? .max, clock.now() + settings.pollIntervalMs)
                        if let reopen = state.nextCircuitReopen() { wakeAt = min(wakeAt, reopen) }
                        wakerRunning = true
                        group.addTask { [clock, wakeAt] in
                            try? await cancelWhenGracefulShutdown { try await clock.sleep(until: wakeAt) }
                            return .wake
                        }
                    }
                }

                events.waiting(inFlight: inFlight)
                guard let result = try await group.next() else { break }
                switch result {
                case .wake:
                    wakerRunning = false
                case .graceOver:
                    if inFlight > 0 {
                        logger.warning("grace period over: cancelling in-flight calls", metadata: ["in_flight": "\(inFlight)"])
                        group.cancelAll()
                    }
                case .unstarted(let order):
                    inFlight -= 1
                    state.unstarted.append(order)
                case .done(let write, let signal):
                    inFlight -= 1
                    state.pending.append(write)
                    if let change = state.apply(signal, mchID: write.order.mchID, now: clock.now(), logger: logger) {
                        try await store.publish("circuit:\(write.order.mchID)", change, now: clock.now())
                    }
                    if state.pending.count >= settings.batchSize { try await flush(&state) }
                }
            }
            // Only timers can be left; they end when cancelled.
            group.cancelAll()
            try await flush(&state)
        }
        logger.info("closing service stopped")
    }

    private func flush(_ state: inout LoopState) async throws {
        if !state.pending.isEmpty {
            let writes = state.pending
            state.pending.removeAll(keepingCapacity: true)
            let results = try await store.record(writes, now: clock.now())
            for (write, result) in zip(writes, results) {
                if case .conflict(let current) = result { reportConflict(write, current: current) }
            }
            events.recorded(writes)
        }
        if !state.unstarted.isEmpty {
            try await store.release(state.unstarted, now: clock.now())
            state.unstarted.removeAll()
        }
    }

    private func reportConflict(_ write: OrderWrite, current: OrderStatus?) {
        var metadata: Logger.Metadata = ["out_trade_no": "\(write.order.outTradeNo)", "mch_id": "\(write.order.mchID)",
                                         "status": "\(current?.rawValue ?? "missing")"]
        if case .finish(.closed, let outcome, _, _) = write.change, current == .paid {
            metadata["outcome"] = "\(outcome ?? "closed")"
            logger.error("conflict: the merchant marked the order paid while WeChat closed it", metadata: metadata)
        } else {
            logger.notice("the row changed under the lease; the merchant's write was kept", metadata: metadata)
        }
    }
}
