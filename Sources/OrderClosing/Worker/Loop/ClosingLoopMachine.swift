/// The closing loop's decisions — when to claim, start, write, sleep, drain, back off from the
/// database and publish — as a state machine in the manner of Hummingbird's
/// `HTTPConnectionStateHandler.StateMachine`. Pure: `now` is passed in; `ClosingService` asks
/// `next(now:)` what to do, carries it out, and tells the machine what happened (its events,
/// `ClosingLoopMachine+Events.swift`). It composes the policies: `MerchantGate` (what may be
/// claimed), `ConcurrencyLimit` (how many calls), `OutcomeCompleter` (when outcomes are written),
/// `DatabaseBackoff`, `OutageLog`.
///
/// | decision   | rule                                                              | numbers (defaults)     |
/// |------------|-------------------------------------------------------------------|------------------------|
/// | claim      | queue not drained and in flight + ready ≤ limit; outcomes ride along | `batchSize` 16; limit 64 → 256 |
/// | start      | a ready order, while a slot is free and its lease covers an attempt | attempt 30 s of a 60 s lease |
/// | give back  | a ready order whose circuit opened, or whose lease ran short      | —                      |
/// | drained    | a claim came back short, or the look after a timer found nothing due | —                   |
/// | sleep      | one timer, the earliest of: poll, next due (drained), database retry, circuit or token | poll 5 s |
/// | no timer   | every slot busy, or due work left with calls in flight (each finished call wakes the loop) | — |
/// | pauses     | read once per poll                                                | 5 s                    |
/// | database   | refused: no claim or write until `DatabaseBackoff` says          | 250 ms doubling to 30 s |
/// | write      | `OutcomeCompleter`'s tables                                       | —                      |
/// | stop       | no claims; ready orders given back; calls get the grace, then are cancelled; refused writes retried until its end | grace 15 s |
///
/// The loop's phases:
///
/// | phase     | what wakes the loop                                     | ends when                       |
/// |-----------|---------------------------------------------------------|---------------------------------|
/// | running   | each finished call; idle (drained): the one timer       | shutdown is asked for           |
/// | stopping  | each finished call, then the grace period's end         | no call is in flight            |
/// | finishing | the completer's retry timer                             | all written, or the grace is over |
struct ClosingLoopMachine {
    enum Phase: Equatable {
        case running
        case stopping(graceDeadline: Int64, graceTimer: GraceTimer)
        case finishing(graceDeadline: Int64?)
    }

    enum GraceTimer: Equatable { case unarmed, armed }

    /// What the loop knows of the queue of due orders.
    enum Queue: Equatable {
        /// Due work may remain: claim while slots allow. Finished calls drive the loop.
        case claiming
        /// A timer fired: read the next due time before claiming, so an idle poll costs a read,
        /// not a write transaction.
        case lookFirst
        /// Nothing more is due until a timer fires.
        case drained(NextDue)

        var isDrained: Bool { if case .drained = self { true } else { false } }
    }

    /// The next due time, as read by the look that found the queue drained (kept for that
    /// iteration's timer so it is not read twice).
    enum NextDue: Equatable { case unread, none, at(Int64) }

    /// Where the machine is within an iteration; `awaiting` a database answer or a sleep.
    enum Step: Equatable {
        case look, admit, readPauses, findDue, claim, startClaimed, flushIfDue, probes, timer, arm(Int64), wait
        case flush(OutcomeCompleter.Stage, then: AfterFlush)
        case stopTop, stopCheck, cancelCalls, leave
        case finishCheck, exited
        case awaiting(Awaited)
    }

    enum AfterFlush: Equatable { case probes, stopTop, stopCheck, finishCheck }

    enum Awaited: Equatable {
        case pauses, dueBeforeClaim, claim(now: Int64, leaseUntil: Int64), dueForTimer(wakeAt: Int64), retrySleep
    }

    /// A claimed order and the end of its lease (unix ms).
    struct Leased: Equatable {
        let order: ClaimedOrder
        let until: Int64
    }

    // State: read by the tests; changed only here and in the events (`+Events`).
    let settings: ClosingSettings
    var phase = Phase.running
    var step = Step.look
    var queue = Queue.claiming
    var gate: MerchantGate
    /// Calls allowed in flight now: grows while latency is flat, shrinks on pushback.
    var limit: ConcurrencyLimit
    var completer = OutcomeCompleter()
    var database = DatabaseBackoff()
    /// Claimed and leased, waiting for a free slot: one batch ahead, so a finished call is
    /// replaced at once instead of after a claim's round trip to the database. Their rate tokens
    /// are already taken, so they never wait for one.
    var ready: [Leased] = []
    var inFlight = 0
    /// When the armed timer fires (nil: none armed); one at a time.
    var timer: Int64?
    /// The `MerchantDirectory` version the gate was built from, and the merchants it serves (one
    /// that leaves the config gets its circuit row closed).
    var directoryVersion: Int
    var servedMerchants: Set<String>
    /// When to read the operators' pauses again.
    var nextPauseCheck: Int64 = 0
    /// Whether WeChat Pay is in an outage: the journal says so once at each end.
    var outage = OutageLog()
    /// What the last admission allowed; a claim and the starts after it use the same.
    var admitted = ClaimRequest(limit: 0)
    var reports: [LoopReport] = []
    /// Reused for `.start`, so starting orders allocates nothing per order.
    private var launching: [ClaimedOrder] = []

    init(settings: ClosingSettings, merchants: MerchantDirectory.Snapshot) {
        self.settings = settings
        gate = MerchantGate(merchants: Array(merchants.profiles.values), unavailable: merchants.unavailable)
        limit = ConcurrencyLimit(ceiling: settings.concurrency, floor: settings.concurrencyFloor)
        directoryVersion = merchants.version
        servedMerchants = Set(merchants.profiles.keys)
        for (mchID, reason) in merchants.unavailable.sorted(by: { $0.key < $1.key }) {
            reports.append(.unavailable(mchID: mchID, reason: reason))
        }
    }

    /// What to do next while calls may be in flight.
    mutating func next(now: Int64) -> LoopAction {
        while true {
            if !reports.isEmpty { return .report(reports.removeFirst()) }
            switch step {
            case .look:
                return .look
            case .admit:
                admitted = admissions(now: now)
                let started = startReady(now: now)  // calls need no database
                step = !database.isOpen(now: now) ? .probes : now >= nextPauseCheck ? .readPauses : .findDue
                if let started { return .start(started) }
            case .readPauses:
                nextPauseCheck = now + settings.pollIntervalMs
                step = .awaiting(.pauses)
                return .database(.readPauses)
            case .findDue:
                guard queue == .lookFirst else {
                    step = .claim
                    continue
                }
                queue = .claiming
                step = .awaiting(.dueBeforeClaim)
                return .database(.findDueTime(admitted))
            case .claim:
                guard !queue.isDrained, inFlight + ready.count <= limit.limit else {
                    step = .flushIfDue
                    continue
                }
                admitted = admissions(now: now)
                let leaseUntil = now + settings.leaseMs
                step = .awaiting(.claim(now: now, leaseUntil: leaseUntil))
                return .database(.recordAndClaim(completer.outcomes, admitted, now: now, leaseUntil: leaseUntil))
            case .startClaimed:
                step = .claim
                if let started = startReady(now: now) { return .start(started) }
            case .flushIfDue:
                let due = completer.isDue(queueDrained: queue.isDrained, inFlight: inFlight, batchSize: settings.batchSize)
                step = due ? .flush(.outcomes, then: .probes) : .probes
            case .flush(let stage, let then):
                if let call = flush(stage, then: then, now: now) { return .database(call) }
            case .probes:
                step = .timer
                let probes = gate.probesToSend(now: now)
                if !probes.isEmpty {
                    inFlight += probes.count  // counted like calls, so shutdown drains them too
                    return .probe(probes)
                }
            case .timer:
                if let call = scheduleTimer(now: now) { return .database(call) }
            case .arm(let wakeAt):
                let at = gate.nextChange(now: now).map { min(wakeAt, $0) } ?? wakeAt
                timer = at
                step = .wait
                return .armTimer(at: at)
            case .wait:
                return .wait(inFlight: inFlight)
            case .stopTop:
                step = .stopCheck
                if !ready.isEmpty {
                    completer.giveBack(ready.map(\.order))
                    ready = []
                    step = .flush(.outcomes, then: .stopCheck)
                }
            case .stopCheck:
                guard case .stopping(let deadline, let grace) = phase, inFlight > 0 else {
                    step = .leave
                    continue
                }
                step = .wait
                if grace == .unarmed {
                    phase = .stopping(graceDeadline: deadline, graceTimer: .armed)
                    return .armGrace(at: deadline)
                }
            case .cancelCalls:
                step = .stopTop
                return .cancelCalls(inFlight: inFlight)
            case .leave:
                phase = .finishing(graceDeadline: phase.graceDeadline)
                step = .flush(.outcomes, then: .finishCheck)
                return .endCalls
            case .finishCheck, .exited, .awaiting:
                // Finishing already; `.awaiting` here would be an answer that never came back.
                return .endCalls
            }
        }
    }

    /// What to do after the calls have ended: the last writes, retried on the database backoff
    /// until the grace period is over (`OutcomeCompleter`'s second table).
    mutating func nextAfterCalls(now: Int64) -> LoopFinalAction {
        while true {
            if !reports.isEmpty { return .report(reports.removeFirst()) }
            switch step {
            case .flush(let stage, let then):
                if let call = flush(stage, then: then, now: now) { return .database(call) }
            case .finishCheck:
                guard case .finishing(let deadline) = phase,
                    let at = completer.nextTry(now: now, retryAt: database.retryAt, graceDeadline: deadline)
                else {
                    step = .exited
                    continue
                }
                step = .awaiting(.retrySleep)
                return .sleep(until: at)
            case .exited, .awaiting(.retrySleep):
                step = .exited
                return .exit(unrecorded: completer.count)
            default:  // the calls ended before the machine said so (the task group ran empty)
                phase = .finishing(graceDeadline: phase.graceDeadline)
                step = .flush(.outcomes, then: .finishCheck)
            }
        }
    }

    /// Calls to WeChat Pay allowed in flight now.
    var concurrencyLimit: Int { limit.limit }

    /// One stage of writing the completer's queue; nil: nothing to write in it now.
    private mutating func flush(_ stage: OutcomeCompleter.Stage, then: AfterFlush, now: Int64) -> LoopDatabaseCall? {
        switch stage {
        case .outcomes: step = .flush(.releases, then: then)
        case .releases: step = then.step
        }
        return completer.write(stage, databaseOpen: database.isOpen(now: now))
    }

    /// What a claim may take now; circuits that moved to half-open are logged.
    mutating func admissions(now: Int64) -> ClaimRequest {
        let (claim, changes) = gate.claimRequest(limit: settings.batchSize, now: now)
        for change in changes { reports.append(.circuit(change, publish: false)) }
        return claim
    }

    /// Moves ready orders into free slots; returns those to start. Given back unstarted instead:
    ///
    /// | ready order                       | why                                                        |
    /// |-----------------------------------|------------------------------------------------------------|
    /// | its circuit opened meanwhile      | its merchant is paused (its rate token is lost)            |
    /// | lease left < `settings.attemptMs` | another daemon could rescue it mid-call and send it twice  |
    ///
    /// An order whose lease ran short is given back even while every slot is busy: it could only
    /// wait longer. The next claim leases it afresh.
    private mutating func startReady(now: Int64) -> [ClaimedOrder]? {
        // A lease shorter than an attempt is refused by check-config; a fresh claim always starts.
        let needed = min(settings.attemptMs, settings.leaseMs)
        if ready.contains(where: { now + needed > $0.until }) {
            let (fresh, short) = ready.partitioned { now + needed <= $0.until }
            reports.append(.leaseRanShort(orders: short.count, limit: limit.limit))
            completer.giveBack(short.map(\.order))
            ready = fresh
        }
        launching.removeAll(keepingCapacity: true)
        var taken = 0
        for leased in ready {
            guard inFlight < limit.limit else { break }
            taken += 1
            if admitted.excludedCircuits.contains(CircuitKey(leased.order)) {
                completer.giveBack(leased.order)
                continue
            }
            launching.append(leased.order)
            inFlight += 1
        }
        ready.removeFirst(taken)
        return launching.isEmpty ? nil : launching
    }

    /// One timer at a time: the next due time, the poll, a circuit's reopening or a rate token,
    /// or a database retry. None while every slot is busy, or while due work remains and calls
    /// are in flight: each finished call wakes the loop, and it claims more.
    private mutating func scheduleTimer(now: Int64) -> LoopDatabaseCall? {
        var known = NextDue.unread
        if case .drained(let due) = queue {
            known = due
            queue = .drained(.unread)  // good for this iteration only
        }
        step = .wait
        guard timer == nil, inFlight < limit.limit else { return nil }
        if !queue.isDrained, inFlight > 0, database.isOpen(now: now) { return nil }
        let poll = now + settings.pollIntervalMs
        if !database.isOpen(now: now) {
            step = .arm(min(poll, database.retryAt))
            return nil
        }
        guard queue.isDrained else {
            step = .arm(poll)
            return nil
        }
        let claim = admissions(now: now)
        switch known {
        case .at(let due): step = .arm(min(poll, due))
        case .none: step = .arm(poll)
        case .unread:
            step = .awaiting(.dueForTimer(wakeAt: poll))
            return .findDueTime(claim)
        }
        return nil
    }
}

extension ClosingLoopMachine.Phase {
    /// When stopping began plus the grace period: the in-flight calls' and the last writes' limit.
    var graceDeadline: Int64? {
        switch self {
        case .running: nil
        case .stopping(let deadline, _): deadline
        case .finishing(let deadline): deadline
        }
    }
}

extension ClosingLoopMachine.AfterFlush {
    var step: ClosingLoopMachine.Step {
        switch self {
        case .probes: .probes
        case .stopTop: .stopTop
        case .stopCheck: .stopCheck
        case .finishCheck: .finishCheck
        }
    }
}

extension Array {
    /// The elements that satisfy `keep`, and the rest, each in order.
    func partitioned(_ keep: (Element) -> Bool) -> (kept: [Element], rest: [Element]) {
        var kept: [Element] = []
        var rest: [Element] = []
        for element in self { if keep(element) { kept.append(element) } else { rest.append(element) } }
        return (kept, rest)
    }
}
