import Logging
import ServiceLifecycle

/// The daemon's loop: claim due orders in batches, work them with bounded concurrency and a
/// per-merchant rate limit, write their outcomes in batches, and sleep until the next due time.
///
/// Responsibilities are split as River splits them: `MerchantGate` decides what may be claimed
/// (circuits, pauses, rate tokens: a claimed order starts at once, so its lease is spent on its
/// call alone), `OrderCloser` executes one order, this loop completes (batches the writes), and
/// `LeaseRescuer` — a service of its own — rescues other daemons' expired leases.
///
/// On graceful shutdown it stops claiming, gives in-flight calls `shutdownGraceMs` to finish and
/// records them, gives back claims that never started, and returns; last writes the database
/// refuses are tried again on its backoff until the same grace period is over. A database that is
/// locked, read-only or full does not stop it: work waits (outcomes stay queued in memory) and
/// resumes when the database accepts writes again.
public struct ClosingService: Service {
    let store: any OrderStore
    let closer: OrderCloser
    let clock: any OrderClock
    let settings: ClosingSettings
    /// The merchants served and those that cannot be (their key did not load: paused, said so at
    /// error level and in `status`). Shared with the closer; a reload replaces it.
    let directory: MerchantDirectory
    let logger: Logger
    let events: ClosingEvents
    /// Wake-ups from the database (PostgreSQL's NOTIFY), on top of the timers; nil: timers only.
    let nudges: QueueNudges?

    /// - Parameters:
    ///   - directory: the same one the closer reads; SIGHUP replaces its merchants.
    ///   - nudges: what ends an idle wait early (a new or paid row); the poll stays the fallback.
    public init(store: any OrderStore, closer: OrderCloser, clock: any OrderClock, settings: ClosingSettings,
                directory: MerchantDirectory, logger: Logger, events: ClosingEvents = ClosingEvents(), nudges: QueueNudges? = nil) {
        self.store = store
        self.closer = closer
        self.clock = clock
        self.settings = settings
        self.directory = directory
        self.logger = logger
        self.events = events
        self.nudges = nudges
    }

    public init(store: any OrderStore, closer: OrderCloser, clock: any OrderClock, settings: ClosingSettings,
                merchants: [MerchantProfile], unavailableMerchants: [String: String] = [:], logger: Logger,
                events: ClosingEvents = ClosingEvents()) {
        self.init(store: store, closer: closer, clock: clock, settings: settings,
                  directory: MerchantDirectory(profiles: merchants, unavailable: unavailableMerchants), logger: logger, events: events)
    }

    enum ChildResult: Sendable {
        case done(OrderCloser.Processed)
        case unstarted(ClaimedOrder)
        case probed(MerchantProbe, MerchantProbe.Verdict)
        case wake
        case graceOver
    }

    typealias Group = TaskGroup<ChildResult>

    public func run() async throws {
        let merchants = directory.current
        var state = LoopState(gate: MerchantGate(merchants: Array(merchants.profiles.values), unavailable: merchants.unavailable),
                              limit: ConcurrencyLimit(ceiling: settings.concurrency, floor: settings.concurrencyFloor))
        state.directoryVersion = merchants.version
        state.servedMerchants = Set(merchants.profiles.keys)
        ClosingMetrics.concurrencyLimit(state.limit.limit)
        await announceUnavailableMerchants(merchants.unavailable, &state)
        await withTaskGroup(of: ChildResult.self) { group in
            // Wakes the loop on SIGTERM even when every slot is busy with a long call.
            group.addTask {
                try? await gracefulShutdown()
                return .wake
            }
            while true {
                if !state.stopping, Task.isShuttingDownGracefully || Task.isCancelled {
                    state.stopping = true
                    state.graceDeadline = clock.now() + settings.shutdownGraceMs
                    logger.info("stopping: no new claims; draining in-flight calls", metadata: ["in_flight": "\(state.inFlight)"])
                }
                if state.stopping {
                    if !state.ready.isEmpty {
                        state.unstarted += state.ready.map(\.order)
                        state.ready.removeAll()
                        await flush(&state)
                    }
                    if state.inFlight == 0 { break }
                    armGracePeriod(&group, &state)
                } else {
                    await fillSlots(&group, &state)
                    sendProbes(&group, &state)
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
        await recordTheRest(&state)
        if !state.pending.isEmpty || !state.unstarted.isEmpty {
            logger.error("could not record every outcome before exiting; those orders will be rescued as in doubt",
                         metadata: ["unrecorded": "\(state.pending.count + state.unstarted.count)"])
        }
        logger.info("closing service stopped")
    }

    /// Starts ready orders in free slots, and claims the next batch once a batch's worth of slots
    /// is spoken for by neither a call nor a ready order.
    ///
    /// | in flight + ready | action                                                    |
    /// |-------------------|-----------------------------------------------------------|
    /// | ≤ limit           | record outcomes + claim `batchSize` more, one transaction |
    /// | > limit           | wait: a batch is already queued                           |
    ///
    /// The limit is adaptive (`ConcurrencyLimit`), at most `settings.concurrency`.
    ///
    /// A claim that comes back short marks the queue drained: no more claims until a timer fires.
    private func fillSlots(_ group: inout Group, _ state: inout LoopState) async {
        let now = clock.now()
        let merchants = directory.current
        if merchants.version != state.directoryVersion {
            // A reload: new rate limits and merchants; circuits are kept.
            state.directoryVersion = merchants.version
            let before = state.gate.unavailable
            state.gate.update(merchants: Array(merchants.profiles.values), unavailable: merchants.unavailable)
            await announceUnavailableMerchants(merchants.unavailable.filter { before[$0.key] != $0.value }, &state)
            // A merchant whose key works again, or who left the config: its circuit row ends here.
            let served = Set(merchants.profiles.keys)
            let ended = Set(before.keys.filter { merchants.unavailable[$0] == nil }).union(state.servedMerchants.subtracting(served))
            state.servedMerchants = served
            let closed = PublishedCircuit(state: .closed, owner: settings.owner).encoded
            for mchID in ended.sorted() {
                ClosingMetrics.circuit(mchID: mchID, open: false)
                _ = await database("publish the merchant's state", &state, { try await store.publish("circuit:\(mchID)", closed, now: now) })
            }
        }
        var claim = admissions(&state, now: now)
        startReady(&group, &state, claim: claim)   // calls need no database
        guard now >= state.databaseRetryAt else { return }
        if now >= state.nextPauseCheck {
            await refreshPauses(&state, now: now)
            claim = admissions(&state, now: now)
        }
        if state.probeBeforeClaim, !state.drained {
            state.probeBeforeClaim = false
            guard let due = await database("find due orders", &state, { [claim] in try await store.nextDueTime(admittedBy: claim) }) else { return }
            if (due ?? .max) > clock.now() {
                state.drained = true
                state.probedDueTime = .some(due)
            }
        }
        while !state.drained, state.inFlight + state.ready.count <= state.limit.limit {
            // The queued outcomes travel in the claim's transaction.
            let writes = state.pending, now = clock.now(), leaseUntil = now + settings.leaseMs
            claim = admissions(&state, now: now)
            guard let (recorded, claimed) = await database("record outcomes and claim due orders", &state, { [claim] in
                try await store.recordAndClaim(writes, claim: claim, now: now, leaseOwner: settings.owner, leaseUntil: leaseUntil)
            }) else { return }
            noteRecorded(writes, recorded, &state)
            state.gate.started(claimed, now: now)
            if claimed.count < claim.limit { state.drained = true }
            state.ready += claimed.map { LoopState.Leased(order: $0, until: leaseUntil) }
            events.claimed(claimed.count)
            startReady(&group, &state, claim: claim)
        }
        // No claim carried the outcomes: write a full batch, or, once drained, whatever outnumbers
        // the calls still running (a tail of n calls costs about log2(n) commits, not n).
        if !state.unstarted.isEmpty || state.pending.count >= settings.batchSize
            || (state.drained && state.pending.count >= min(state.inFlight, settings.batchSize)) {
            await flush(&state)
        }
    }

    /// What a claim may take now; logs and publishes circuits that moved to half-open.
    private func admissions(_ state: inout LoopState, now: Int64) -> ClaimRequest {
        let (claim, changes) = state.gate.claimRequest(limit: settings.batchSize, now: now)
        for change in changes { report(change, now: now) }
        return claim
    }

    /// Moves ready orders into free slots. Given back unstarted instead:
    ///
    /// | ready order                       | why                                                   |
    /// |-----------------------------------|-------------------------------------------------------|
    /// | its circuit opened meanwhile      | its merchant is paused (its rate token is lost)       |
    /// | lease left < `settings.attemptMs` | another daemon could rescue it mid-call and send it twice |
    ///
    /// An order whose lease ran short is given back even while every slot is busy: it could only
    /// wait longer. The next claim leases it afresh.
    private func startReady(_ group: inout Group, _ state: inout LoopState, claim: ClaimRequest) {
        // A lease shorter than an attempt is refused by check-config; a fresh claim always starts.
        let now = clock.now(), needed = min(settings.attemptMs, settings.leaseMs)
        let (fresh, short) = state.ready.partitioned { now + needed <= $0.until }
        if !short.isEmpty {
            logger.notice("\(short.count) claimed order(s) waited for a free slot until their lease could not cover an attempt; given back, to be claimed again",
                          metadata: ["orders": "\(short.count)", "limit": "\(state.limit.limit)"])
            state.unstarted += short.map(\.order)
        }
        state.ready = fresh
        var started = 0
        for leased in state.ready {
            guard state.inFlight < state.limit.limit else { break }
            started += 1
            if claim.excludedCircuits.contains(CircuitKey(leased.order)) {
                state.unstarted.append(leased.order)
                continue
            }
            launch(leased.order, &group)
            state.inFlight += 1
        }
        state.ready.removeFirst(started)
    }

    private func launch(_ order: ClaimedOrder, _ group: inout Group) {
        group.addTask { [closer] in
            if Task.isCancelled { return .unstarted(order) }
            return .done(await closer.process(order))
        }
    }

    /// Sends the setup probes circuits ask for (`MerchantCircuit`): one call each, counted in
    /// flight like an order's, so shutdown drains it too.
    private func sendProbes(_ group: inout Group, _ state: inout LoopState) {
        for probe in state.gate.probesToSend(now: clock.now()) {
            state.inFlight += 1
            group.addTask { [closer] in .probed(probe, await closer.probe(probe)) }
        }
    }

    /// One timer at a time: the next due time, the poll interval, a circuit's reopening, or a
    /// database retry. None while every slot is busy, or while due work remains and calls are in
    /// flight: each finished call wakes the loop, and it claims more.
    private func scheduleWaker(_ group: inout Group, _ state: inout LoopState) async {
        let now = clock.now()
        let probed = state.probedDueTime   // fresh from this iteration's fillSlots, if any
        state.probedDueTime = nil
        guard !state.wakerRunning, state.inFlight < state.limit.limit else { return }
        if !state.drained, state.inFlight > 0, state.databaseRetryAt <= now { return }
        var wakeAt = now + settings.pollIntervalMs
        if state.databaseRetryAt > now {
            wakeAt = min(wakeAt, state.databaseRetryAt)
        } else if state.drained {
            let claim = admissions(&state, now: now)
            var due = probed
            if due == nil { due = await database("find due orders", &state, { try await store.nextDueTime(admittedBy: claim) }) }
            if let due, let due { wakeAt = min(wakeAt, due) }
        }
        if let change = state.gate.nextChange(now: now) { wakeAt = min(wakeAt, change) }
        state.wakerRunning = true
        group.addTask { [clock, wakeAt, nudges] in
            await cancelWhenGracefulShutdown { await Self.sleep(clock, until: wakeAt, orUntilNudgedBy: nudges) }
            return .wake
        }
    }

    /// The timer, ended early by a nudge (a new or paid row) when there are nudges.
    static func sleep(_ clock: any OrderClock, until wakeAt: Int64, orUntilNudgedBy nudges: QueueNudges?) async {
        guard let nudges else {
            try? await clock.sleep(until: wakeAt)
            return
        }
        await withTaskGroup(of: Void.self) { race in
            race.addTask { try? await clock.sleep(until: wakeAt) }
            race.addTask { await nudges.next() }
            await race.next()
            race.cancelAll()
        }
    }

    private func armGracePeriod(_ group: inout Group, _ state: inout LoopState) {
        guard !state.graceArmed else { return }
        state.graceArmed = true
        let deadline = state.graceDeadline ?? clock.now() + settings.shutdownGraceMs
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
        case .probed(let probe, let verdict):
            state.inFlight -= 1
            let now = clock.now()
            if let change = state.gate.record(verdict, of: probe, now: now) {
                let (key, value) = report(change, now: now)
                _ = await database("publish the circuit state", &state, { try await store.publish(key, value, now: now) })
            }
        case .done(let processed):
            let write = processed.write
            let limitBefore = state.limit.limit
            state.limit.record(processed.load, inFlight: state.inFlight, now: clock.now())
            if state.limit.limit != limitBefore { ClosingMetrics.concurrencyLimit(state.limit.limit) }
            state.inFlight -= 1
            state.pending.append(write)
            let now = clock.now()
            if let seen = processed.delivery { logOutage(state.outage.record(seen, now: now), &state) }
            if let change = state.gate.record(processed.circuit, for: CircuitKey(write.order), now: now) {
                let (key, value) = report(change, now: now)
                _ = await database("publish the circuit state", &state, { try await store.publish(key, value, now: now) })
            }
            if state.stopping { await flush(&state) }
        }
    }

    /// After the loop: outcomes and releases a refused write left queued are tried again on the
    /// database backoff, the last try at the grace period's end. Every call this daemon made is
    /// recorded (`close_attempts`) unless the database refuses for the whole grace period:
    /// exiting at the first refusal lost the outcomes of a database restart's last seconds.
    ///
    /// | database after the refusal | result                                                   |
    /// |----------------------------|----------------------------------------------------------|
    /// | back within the grace      | recorded at the first backoff step after it came back    |
    /// | down for the whole grace   | one last try at the grace's end; then exit, rows in doubt |
    private func recordTheRest(_ state: inout LoopState) async {
        guard let deadline = state.graceDeadline else { return }
        while !state.pending.isEmpty || !state.unstarted.isEmpty, clock.now() < deadline {
            do {
                try await clock.sleep(until: min(state.databaseRetryAt, deadline))
            } catch {
                return   // cancelled: the service group gave up waiting
            }
            state.databaseRetryAt = min(state.databaseRetryAt, clock.now())
            await flush(&state)
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
            reportConflict(write, result)
        }
        events.recorded(writes)
    }

    /// Runs one store call; on failure logs once per outage and backs off (250 ms doubling to 30 s).
    /// The two lines an outage gets (`OutageLog`); each waiting order's own line is debug meanwhile.
    private func logOutage(_ line: OutageLog.Line?, _ state: inout LoopState) {
        switch line {
        case .started(let cause):
            logger.error("WeChat Pay unreachable, calls not delivered: \(cause); orders wait \(TimeText.duration(closer.retry.outageDelayMs)) between tries until it answers",
                         metadata: ["outage": "started", "cause": "\(cause)"])
        case .ended(let lastedMs, let waited):
            logger.notice("WeChat Pay reachable again after \(TimeText.duration(lastedMs)); \(waited) order(s) waited out the outage",
                          metadata: ["outage": "ended", "lasted_ms": "\(lastedMs)", "orders_waited": "\(waited)"])
        case nil: break
        }
    }

    private func database<T>(_ what: String, _ state: inout LoopState, _ body: () async throws -> T) async -> T? {
        do {
            let value = try await body()
            if state.databaseFailures > 0 {
                logger.notice("database usable again after \(state.databaseFailures) failed tries; \(state.pending.count) outcome(s) queued meanwhile",
                              metadata: ["after_failures": "\(state.databaseFailures)", "queued_outcomes": "\(state.pending.count)"])
                state.databaseFailures = 0
                state.databaseRetryAt = 0
            }
            return value
        } catch {
            if state.databaseFailures == 0 {
                logger.error("database error while trying to \(what): \(error); work waits and resumes when it clears",
                             metadata: ["while": "\(what)", "error": "\(error)", "queued_outcomes": "\(state.pending.count)"])
            }
            state.databaseFailures += 1
            state.databaseRetryAt = clock.now() + LoopState.databaseBackoffMs(failures: state.databaseFailures)
            return nil
        }
    }

    /// Logs a circuit's change; returns what `status` shows for it (`daemon_state`).
    @discardableResult
    private func report(_ change: MerchantGate.Change, now: Int64) -> (key: String, value: String) {
        switch change {
        case .opened(let key, let until, let reason):
            logger.error("merchant \(key) paused until \(TimeText.both(until, now: now)): \(reason)",
                         metadata: ["mch_id": "\(key.mchID)", "circuit": "open", "reason": "\(reason)",
                                    "until": "\(TimeText.iso8601(until))"].merging(key.subMchID.map { ["sub_mch_id": "\($0)"] } ?? [:]) { $1 })
            ClosingMetrics.circuit(mchID: key.description, open: true)
            return ("circuit:\(key)", PublishedCircuit(state: .open, untilMs: until, reason: reason, owner: settings.owner).encoded)
        case .halfOpen(let key):
            logger.notice("merchant \(key) pause over: probing its setup with a query for a made-up order", metadata: ["mch_id": "\(key.mchID)", "circuit": "half_open"])
            return ("circuit:\(key)", PublishedCircuit(state: .halfOpen, owner: settings.owner).encoded)
        case .closed(let key):
            logger.notice("merchant \(key) answers healthily again: resumed", metadata: ["mch_id": "\(key.mchID)", "circuit": "closed"])
            ClosingMetrics.circuit(mchID: key.description, open: false)
            return ("circuit:\(key)", PublishedCircuit(state: .closed, owner: settings.owner).encoded)
        }
    }

    /// Reads the operators' pauses (shared by every daemon on the database) once per poll.
    private func refreshPauses(_ state: inout LoopState, now: Int64) async {
        state.nextPauseCheck = now + settings.pollIntervalMs
        guard let pauses = await database("read the operators' pauses", &state, { try await store.pausedMerchants() }) else { return }
        let (paused, resumed) = state.gate.setPaused(pauses)
        for (mchID, reason) in paused.sorted(by: { $0.key < $1.key }) {
            logger.warning("merchant \(mchID) paused by an operator: \(reason); its orders wait", metadata: ["mch_id": "\(mchID)", "reason": "\(reason)"])
        }
        for mchID in resumed {
            logger.notice("merchant \(mchID) resumed by an operator", metadata: ["mch_id": "\(mchID)"])
        }
    }

    /// Says once, loudly, which merchants cannot be served, and shows it in `status`.
    private func announceUnavailableMerchants(_ unavailable: [String: String], _ state: inout LoopState) async {
        for (mchID, reason) in unavailable.sorted(by: { $0.key < $1.key }) {
            logger.error("merchant \(mchID) cannot be served and is paused: \(reason); its orders wait, the other merchants are served",
                         metadata: ["mch_id": "\(mchID)", "circuit": "unavailable", "reason": "\(reason)"])
            ClosingMetrics.circuit(mchID: mchID, open: true)
            let now = clock.now()
            let value = PublishedCircuit(state: .paused, reason: reason, owner: settings.owner).encoded
            _ = await database("publish the merchant's state", &state, { try await store.publish("circuit:\(mchID)", value, now: now) })
        }
    }

    /// A write that lost its compare-and-set, said as what happened (`OrderWrite.lostCompareAndSet`):
    /// the merchant's `paid` raced the close, or another daemon's rescue took the lease.
    private func reportConflict(_ write: OrderWrite, _ result: WriteResult) {
        let current: OrderStatus?, lostToRescue: Bool
        switch result {
        case .applied: return
        case .conflict(let now): (current, lostToRescue) = (now, false)
        case .leaseLost(let now): (current, lostToRescue) = (now, true)
        }
        var metadata: Logger.Metadata = ["out_trade_no": "\(write.order.outTradeNo)", "mch_id": "\(write.order.mchID)",
                                         "status": "\(current?.rawValue ?? "missing")"]
        if case .finish(_, let outcome?, _, _) = write.change { metadata["outcome"] = "\(outcome)" }
        if case .contradiction(let text) = write.change {
            metadata["conflict"] = "\(text)"
            logger.error(lostToRescue
                ? "WeChat contradicts itself about a payment, but the lease had expired and another daemon's rescue took the order; it asks WeChat again"
                : "conflict: WeChat contradicts itself about a payment and the merchant marked the order paid meanwhile", metadata: metadata)
        } else if lostToRescue {
            logger.notice("the lease expired before this outcome was recorded and another daemon's rescue took the order (now \(current?.rawValue ?? "deleted")); the answer is kept in the audit only",
                          metadata: metadata)
        } else if case .finish(.closed, _, _, _) = write.change {
            logger.error("conflict: the merchant marked the order paid while WeChat closed it", metadata: metadata)
        } else {
            logger.notice("the merchant marked the order paid while its close was in flight; the merchant's write was kept", metadata: metadata)
        }
    }
}
