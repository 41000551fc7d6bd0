import Logging
import ServiceLifecycle

/// The daemon's loop: claim due orders in batches, work them with bounded concurrency and a
/// per-merchant rate limit, write their outcomes in batches, and sleep until the next due time.
///
/// On graceful shutdown it stops claiming, gives in-flight calls `shutdownGraceMs` to finish and
/// records them, gives back claims that never started, and returns. A database that is locked,
/// read-only or full does not stop it: work waits (outcomes stay queued in memory) and resumes
/// when the database accepts writes again.
public struct ClosingService: Service {
    let store: any OrderStore
    let closer: OrderCloser
    let clock: any OrderClock
    let settings: ClosingSettings
    let merchants: [MerchantProfile]
    /// mch_id → why its key cannot be used; its orders are paused, not failed.
    let unavailableMerchants: [String: String]
    let logger: Logger
    let events: ClosingEvents

    public init(store: any OrderStore, closer: OrderCloser, clock: any OrderClock, settings: ClosingSettings,
                merchants: [MerchantProfile], unavailableMerchants: [String: String] = [:], logger: Logger,
                events: ClosingEvents = ClosingEvents()) {
        self.store = store
        self.closer = closer
        self.clock = clock
        self.settings = settings
        self.merchants = merchants
        self.unavailableMerchants = unavailableMerchants
        self.logger = logger
        self.events = events
    }

    enum ChildResult: Sendable {
        case done(OrderWrite, OrderCloser.CircuitSignal)
        case unstarted(ClaimedOrder)
        case wake
        case graceOver
    }

    typealias Group = TaskGroup<ChildResult>

    public func run() async throws {
        var state = LoopState(merchants: merchants)
        await withTaskGroup(of: ChildResult.self) { group in
            // Wakes the loop on SIGTERM even when every slot is busy with a long call.
            group.addTask {
                try? await gracefulShutdown()
                return .wake
            }
            while true {
                if !state.stopping, Task.isShuttingDownGracefully || Task.isCancelled {
                    state.stopping = true
                    logger.info("stopping: no new claims; draining in-flight calls", metadata: ["in_flight": "\(state.inFlight)"])
                }
                if state.stopping {
                    if !state.ready.isEmpty {
                        state.unstarted += state.ready
                        state.ready.removeAll()
                        await flush(&state)
                    }
                    if state.inFlight == 0 { break }
                    armGracePeriod(&group, &state)
                } else {
                    await fillSlots(&group, &state)
                    await scheduleWaker(&group, &state)
                }
                events.waiting(inFlight: state.inFlight)
                guard let result = await group.next() else { break }
                await handle(result, &group, &state)
            }
            // Only timers can be left; they end when cancelled.
            group.cancelAll()
        }
        await flush(&state)
        if !state.pending.isEmpty || !state.unstarted.isEmpty {
            logger.error("could not record every outcome before exiting; those orders will be rescued as in doubt",
                         metadata: ["unrecorded": "\(state.pending.count + state.unstarted.count)"])
        }
        logger.info("closing service stopped")
    }

    /// Rescues expired leases, starts ready orders in free slots, and claims the next batch once a
    /// batch's worth of slots is spoken for by neither a call nor a ready order.
    ///
    /// | in flight + ready | action                                                    |
    /// |-------------------|-----------------------------------------------------------|
    /// | ≤ concurrency     | record outcomes + claim `batchSize` more, one transaction |
    /// | > concurrency     | wait: a batch is already queued                           |
    ///
    /// A claim that comes back short marks the queue drained: no more claims until a timer fires.
    private func fillSlots(_ group: inout Group, _ state: inout LoopState) async {
        let now = clock.now()
        let excluded = state.excludedMerchants(now: now, logger: logger)
        startReady(&group, &state, excluded: excluded, now: now)   // calls need no database
        guard now >= state.databaseRetryAt else { return }
        if now >= state.nextRescue, let rescued = await database("rescue expired leases", &state, { try await store.rescueExpiredLeases(now: now) }) {
            if rescued > 0 { logger.warning("rescued orders whose lease expired (in doubt)", metadata: ["count": "\(rescued)"]) }
            state.nextRescue = now + settings.leaseMs / 2
        }
        if state.probeBeforeClaim, !state.drained {
            state.probeBeforeClaim = false
            guard let due = await database("find due orders", &state, { try await store.nextDueTime(excludedMerchants: excluded) }) else { return }
            if (due ?? .max) > clock.now() {
                state.drained = true
                state.probedDueTime = .some(due)
            }
        }
        while !state.drained, state.inFlight + state.ready.count <= settings.concurrency {
            // The queued outcomes travel in the claim's transaction.
            let writes = state.pending, now = clock.now()
            guard let (recorded, claimed) = await database("record outcomes and claim due orders", &state, {
                try await store.recordAndClaim(writes, now: now, limit: settings.batchSize, excludedMerchants: excluded,
                                               leaseOwner: settings.owner, leaseUntil: now + settings.leaseMs)
            }) else { return }
            noteRecorded(writes, recorded, &state)
            if claimed.count < settings.batchSize { state.drained = true }
            state.ready += claimed
            events.claimed(claimed.count)
            startReady(&group, &state, excluded: excluded, now: now)
        }
        // No claim carried the outcomes: write a full batch, or, once drained, whatever outnumbers
        // the calls still running (a tail of n calls costs about log2(n) commits, not n).
        if !state.unstarted.isEmpty || state.pending.count >= settings.batchSize
            || (state.drained && state.pending.count >= min(state.inFlight, settings.batchSize)) {
            await flush(&state)
        }
    }

    /// Moves ready orders into free slots; those of a merchant whose circuit opened meanwhile are
    /// given back unstarted.
    private func startReady(_ group: inout Group, _ state: inout LoopState, excluded: Set<String>, now: Int64) {
        var started = 0
        for order in state.ready {
            guard state.inFlight < settings.concurrency else { break }
            started += 1
            if excluded.contains(order.mchID) {
                state.unstarted.append(order)
                continue
            }
            launch(order, startAt: state.reserveToken(for: order.mchID, now: now), now: now, &group)
            state.inFlight += 1
        }
        state.ready.removeFirst(started)
    }

    private func launch(_ order: ClaimedOrder, startAt: Int64, now: Int64, _ group: inout Group) {
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

    /// One timer at a time: the next due time, the poll interval, a circuit's reopening, or a
    /// database retry. None while every slot is busy, or while due work remains and calls are in
    /// flight: each finished call wakes the loop, and it claims more.
    private func scheduleWaker(_ group: inout Group, _ state: inout LoopState) async {
        let now = clock.now()
        let probed = state.probedDueTime   // fresh from this iteration's fillSlots, if any
        state.probedDueTime = nil
        guard !state.wakerRunning, state.inFlight < settings.concurrency else { return }
        if !state.drained, state.inFlight > 0, state.databaseRetryAt <= now { return }
        var wakeAt = now + settings.pollIntervalMs
        if state.databaseRetryAt > now {
            wakeAt = min(wakeAt, state.databaseRetryAt)
        } else if state.drained {
            let excluded = state.excludedMerchants(now: now, logger: logger)
            var due = probed
            if due == nil { due = await database("find due orders", &state, { try await store.nextDueTime(excludedMerchants: excluded) }) }
            if let due, let due { wakeAt = min(wakeAt, due) }
        }
        if let reopen = state.nextCircuitReopen() { wakeAt = min(wakeAt, reopen) }
        state.wakerRunning = true
        group.addTask { [clock, wakeAt] in
            try? await cancelWhenGracefulShutdown { try await clock.sleep(until: wakeAt) }
            return .wake
        }
    }

    private func armGracePeriod(_ group: inout Group, _ state: inout LoopState) {
        guard !state.graceArmed else { return }
        state.graceArmed = true
        let deadline = clock.now() + settings.shutdownGraceMs
        group.addTask { [clock] in
            try? await clock.sleep(until: deadline)
            return .graceOver
        }
    }

    private func handle(_ result: ChildResult, _ group: inout Group, _ state: inout LoopState) async {
        switch result {
        case .wake:
            state.wakerRunning = false
            state.drained = false
            state.probeBeforeClaim = true
        case .graceOver:
            if state.inFlight > 0 {
                logger.warning("grace period over: cancelling in-flight calls", metadata: ["in_flight": "\(state.inFlight)"])
                group.cancelAll()
            }
        case .unstarted(let order):
            state.inFlight -= 1
            state.unstarted.append(order)
            if state.stopping { await flush(&state) }
        case .done(let write, let signal):
            state.inFlight -= 1
            state.pending.append(write)
            if let change = state.apply(signal, mchID: write.order.mchID, now: clock.now(), logger: logger) {
                let key = "circuit:\(write.order.mchID)", now = clock.now()
                _ = await database("publish the circuit state", &state, { try await store.publish(key, change, now: now) })
            }
            if state.stopping { await flush(&state) }
        }
    }

    /// Writes queued outcomes and releases; on a database error they stay queued for the next try.
    private func flush(_ state: inout LoopState) async {
        if !state.pending.isEmpty, clock.now() >= state.databaseRetryAt {
            let writes = state.pending
            if let results = await database("record outcomes", &state, { try await store.record(writes, now: clock.now()) }) {
                noteRecorded(writes, results, &state)
            }
        }
        if !state.unstarted.isEmpty, clock.now() >= state.databaseRetryAt {
            let orders = state.unstarted
            if await database("release unstarted claims", &state, { try await store.release(orders, now: clock.now()) }) != nil {
                state.unstarted.removeFirst(orders.count)
            }
        }
    }

    private func noteRecorded(_ writes: [OrderWrite], _ results: [WriteResult], _ state: inout LoopState) {
        guard !writes.isEmpty else { return }
        state.pending.removeFirst(writes.count)
        for (write, result) in zip(writes, results) {
            if case .conflict(let current) = result { reportConflict(write, current: current) }
        }
        events.recorded(writes)
    }

    /// Runs one store call; on failure logs once per outage and backs off (250 ms doubling to 30 s).
    private func database<T>(_ what: String, _ state: inout LoopState, _ body: () async throws -> T) async -> T? {
        do {
            let value = try await body()
            if state.databaseFailures > 0 {
                logger.notice("database usable again", metadata: ["after_failures": "\(state.databaseFailures)"])
                state.databaseFailures = 0
                state.databaseRetryAt = 0
            }
            return value
        } catch {
            if state.databaseFailures == 0 {
                logger.error("database error: work waits and resumes when it clears",
                             metadata: ["while": "\(what)", "error": "\(error)", "queued_outcomes": "\(state.pending.count)"])
            }
            state.databaseFailures += 1
            let backoff = min(Int64(250) << min(state.databaseFailures - 1, 7), 30_000)
            state.databaseRetryAt = clock.now() + backoff
            return nil
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
