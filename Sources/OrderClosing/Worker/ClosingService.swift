import Logging
import ServiceLifecycle

/// The daemon's loop: claim due orders in batches, work them with bounded concurrency and a
/// per-merchant rate limit, write their outcomes in batches, and sleep until the next due time.
///
/// Responsibilities are split as River splits them: `MerchantGate` decides what may be claimed
/// (circuits, pauses, rate tokens: a claimed order starts at once, so its lease is spent on its
/// call alone), `OrderCloser` executes one order, `OutcomeCompleter` batches the writes, and
/// `LeaseRescuer` — a service of its own — rescues other daemons' expired leases. Every decision
/// is `ClosingLoopMachine`'s (pure, table-tested); this service only carries out its actions:
/// store calls, child tasks, timers, and `LoopJournal`'s lines.
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
    public init(
        store: any OrderStore, closer: OrderCloser, clock: any OrderClock, settings: ClosingSettings,
        directory: MerchantDirectory, logger: Logger, events: ClosingEvents = ClosingEvents(), nudges: QueueNudges? = nil
    ) {
        self.store = store
        self.closer = closer
        self.clock = clock
        self.settings = settings
        self.directory = directory
        self.logger = logger
        self.events = events
        self.nudges = nudges
    }

    public init(
        store: any OrderStore, closer: OrderCloser, clock: any OrderClock, settings: ClosingSettings,
        merchants: [MerchantProfile], unavailableMerchants: [String: String] = [:], logger: Logger,
        events: ClosingEvents = ClosingEvents()
    ) {
        self.init(
            store: store, closer: closer, clock: clock, settings: settings,
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
        var machine = ClosingLoopMachine(settings: settings, merchants: directory.current)
        let journal = LoopJournal(logger: logger, owner: settings.owner, outageDelayMs: closer.retry.outageDelayMs)
        ClosingMetrics.concurrencyLimit(machine.concurrencyLimit)
        await withTaskGroup(of: ChildResult.self) { group in
            // Wakes the loop on SIGTERM even when every slot is busy with a long call.
            group.addTask {
                try? await gracefulShutdown()
                return .wake
            }
            calls: while true {
                let now = clock.now()
                switch machine.next(now: now) {
                case .look:
                    machine.looked(
                        now: now, shuttingDown: Task.isShuttingDownGracefully || Task.isCancelled, merchants: directory.current)
                case .report(let report):
                    await tell(report, journal, &machine)
                case .database(let call):
                    await perform(call, journal, &machine)
                case .start(let orders):
                    for order in orders { launch(order, &group) }
                case .probe(let probes):
                    for probe in probes { group.addTask { [closer] in .probed(probe, await closer.probe(probe)) } }
                case .armTimer(let wakeAt):
                    group.addTask { [clock, nudges] in
                        await cancelWhenGracefulShutdown { await Self.sleep(clock, until: wakeAt, orUntilNudgedBy: nudges) }
                        return .wake
                    }
                case .armGrace(let deadline):
                    group.addTask { [clock] in
                        try? await clock.sleep(until: deadline)
                        return .graceOver
                    }
                case .cancelCalls(let inFlight):
                    journal.graceOver(inFlight: inFlight)
                    group.cancelAll()
                case .wait(let inFlight):
                    events.waiting(inFlight: inFlight)
                    guard let result = await group.next() else {
                        machine.callsEnded()
                        continue
                    }
                    let now = clock.now()
                    switch result {
                    case .wake: machine.woken()
                    case .graceOver: machine.graceOver()
                    case .unstarted(let order): machine.callUnstarted(order)
                    case .probed(let probe, let verdict): machine.probed(probe, verdict, now: now)
                    case .done(let processed):
                        machine.callFinished(
                            processed.write, circuit: processed.circuit, load: processed.load,
                            delivery: processed.delivery, now: now)
                    }
                case .endCalls:
                    break calls
                }
            }
            // Only timers can be left; they end when cancelled.
            group.cancelAll()
        }
        while true {
            switch machine.nextAfterCalls(now: clock.now()) {
            case .report(let report):
                await tell(report, journal, &machine)
            case .database(let call):
                await perform(call, journal, &machine)
            case .sleep(let until):
                do {
                    try await clock.sleep(until: until)
                    machine.slept(now: clock.now())
                } catch {
                    machine.sleepCancelled()  // the service group gave up waiting
                }
            case .exit(let unrecorded):
                journal.stopped(unrecorded: unrecorded)
                return
            }
        }
    }

    private func launch(_ order: ClaimedOrder, _ group: inout Group) {
        group.addTask { [closer] in
            if Task.isCancelled { return .unstarted(order) }
            return .done(await closer.process(order))
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

    /// Carries out one store call and tells the machine how it went.
    private func perform(_ call: LoopDatabaseCall, _ journal: LoopJournal, _ machine: inout ClosingLoopMachine) async {
        switch call {
        case .readPauses:
            if let pauses = await database(call.what, journal, &machine, { try await store.pausedMerchants() }) {
                machine.pausesRead(pauses, now: clock.now())
            }
        case .findDueTime(let claim):
            if let due = await database(call.what, journal, &machine, { try await store.nextDueTime(admittedBy: claim) }) {
                machine.dueTimeFound(due, now: clock.now())
            }
        case .recordAndClaim(let writes, let claim, let now, let leaseUntil):
            if let result = await database(
                call.what, journal, &machine,
                {
                    try await store.recordAndClaim(
                        writes, claim: claim, now: now, leaseOwner: settings.owner, leaseUntil: leaseUntil)
                })
            {
                noteRecorded(writes, result.recorded, journal)
                machine.claimed(result.claimed, recorded: writes.count)
                events.claimed(result.claimed.count)
            }
        case .record(let writes):
            if let results = await database(call.what, journal, &machine, { try await store.record(writes, now: clock.now()) }) {
                noteRecorded(writes, results, journal)
                machine.recorded(writes.count)
            }
        case .release(let orders):
            if await database(call.what, journal, &machine, { try await store.release(orders, now: clock.now()) }) != nil {
                machine.released(orders.count)
            }
        }
    }

    /// Says a report; publishes its `daemon_state` row, if it has one.
    private func tell(_ report: LoopReport, _ journal: LoopJournal, _ machine: inout ClosingLoopMachine) async {
        let now = clock.now()
        guard let row = journal.tell(report, now: now) else { return }
        let what = if case .circuit = report { "publish the circuit state" } else { "publish the merchant's state" }
        _ = await database(what, journal, &machine, { try await store.publish(row.key, row.value, now: now) })
    }

    private func noteRecorded(_ writes: [OrderWrite], _ results: [WriteResult], _ journal: LoopJournal) {
        guard !writes.isEmpty else { return }
        for (write, result) in zip(writes, results) { journal.conflict(write, result) }
        events.recorded(writes)
    }

    /// Runs one store call; tells the machine whether the database answered (its backoff) and
    /// logs the first refusal of an outage and its end.
    private func database<T>(
        _ what: String, _ journal: LoopJournal, _ machine: inout ClosingLoopMachine,
        _ body: () async throws -> T
    ) async -> T? {
        do {
            let value = try await body()
            if let back = machine.databaseAnswered() {
                journal.databaseBack(afterFailures: back.failures, queuedOutcomes: back.queuedOutcomes)
            }
            return value
        } catch {
            if machine.databaseFailed(now: clock.now()) {
                journal.databaseRefused(what, error, queuedOutcomes: machine.completer.outcomes.count)
            }
            return nil
        }
    }
}
