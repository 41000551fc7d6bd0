/// What `ClosingService` tells the machine: the world at the top of an iteration, the answers of
/// the database calls it asked for, and the loop's children (calls, probes, timers). Events only
/// change state; the next action comes from `next(now:)`.
extension ClosingLoopMachine {
    // MARK: the world

    /// At `.look`: whether shutdown was asked for (SIGTERM, cancellation), and the merchants now
    /// (a reload since the last look gets new rate limits and merchants; circuits are kept).
    mutating func looked(now: Int64, shuttingDown: Bool, merchants: MerchantDirectory.Snapshot) {
        guard step == .look else { return }
        if shuttingDown {
            phase = .stopping(graceDeadline: now + settings.shutdownGraceMs, graceTimer: .unarmed)
            reports.append(.stopping(inFlight: inFlight))
            step = .stopTop
            return
        }
        if merchants.version != directoryVersion { reload(merchants) }
        step = .admit
    }

    private mutating func reload(_ merchants: MerchantDirectory.Snapshot) {
        directoryVersion = merchants.version
        let before = gate.unavailable
        gate.update(merchants: Array(merchants.profiles.values), unavailable: merchants.unavailable)
        for (mchID, reason) in merchants.unavailable.filter({ before[$0.key] != $0.value }).sorted(by: { $0.key < $1.key }) {
            reports.append(.unavailable(mchID: mchID, reason: reason))
        }
        // A merchant whose key works again, or who left the config: its circuit row ends here.
        let served = Set(merchants.profiles.keys)
        let ended = Set(before.keys.filter { merchants.unavailable[$0] == nil }).union(servedMerchants.subtracting(served))
        servedMerchants = served
        for mchID in ended.sorted() { reports.append(.circuitEnded(mchID: mchID)) }
    }

    // MARK: the database

    /// Any store call answered; returns how many refusals this ends (and what waited), if any.
    mutating func databaseAnswered() -> (failures: Int, queuedOutcomes: Int)? {
        database.answered().map { ($0, completer.outcomes.count) }
    }

    /// Any store call was refused; returns whether it is the outage's first (the one logged).
    /// What was asked is skipped: a claim or a look waits for the backoff; writes stay queued.
    mutating func databaseFailed(now: Int64) -> Bool {
        let first = database.failed(now: now)
        if case .awaiting(let awaited) = step {
            switch awaited {
            case .pauses: step = .findDue
            case .dueBeforeClaim, .claim: step = .probes
            case .dueForTimer(let wakeAt): step = .arm(wakeAt)
            case .retrySleep: break
            }
        }
        return first
    }

    mutating func pausesRead(_ pauses: [String: String], now: Int64) {
        let (paused, resumed) = gate.setPaused(pauses)
        if !paused.isEmpty || !resumed.isEmpty { reports.append(.operatorPauses(paused: paused, resumed: resumed)) }
        admitted = admissions(now: now)
        if step == .awaiting(.pauses) { step = .findDue }
    }

    /// The next due time (nil: no pending order at all).
    mutating func dueTimeFound(_ due: Int64?, now: Int64) {
        switch step {
        case .awaiting(.dueBeforeClaim):
            if (due ?? .max) > now { queue = .drained(due.map(NextDue.at) ?? .none) }
            step = .claim
        case .awaiting(.dueForTimer(let wakeAt)):
            step = .arm(due.map { min(wakeAt, $0) } ?? wakeAt)
        default:
            break
        }
    }

    /// A claim's transaction committed: the first `recorded` queued outcomes were written with it.
    /// A claim that comes back short marks the queue drained.
    mutating func claimed(_ orders: [ClaimedOrder], recorded: Int) {
        guard case .awaiting(.claim(let now, let leaseUntil)) = step else { return }
        completer.recorded(recorded)
        gate.started(orders, now: now)
        if orders.count < admitted.limit { queue = .drained(.unread) }
        ready.reserveCapacity(ready.count + orders.count)
        for order in orders { ready.append(Leased(order: order, until: leaseUntil)) }
        step = .startClaimed
    }

    mutating func recorded(_ count: Int) { completer.recorded(count) }
    mutating func released(_ count: Int) { completer.released(count) }

    // MARK: the loop's children

    /// The timer fired (or the shutdown watcher woke the loop): look before claiming.
    mutating func woken() {
        timer = nil
        queue = .lookFirst
        endWait(flushing: false)
    }

    mutating func graceOver() {
        endWait(flushing: false)
        if inFlight > 0 { step = .cancelCalls }
    }

    /// A call ended before it began (cancelled): its claim is given back.
    mutating func callUnstarted(_ order: ClaimedOrder) {
        inFlight -= 1
        completer.giveBack(order)
        endWait(flushing: true)
    }

    mutating func probed(_ probe: MerchantProbe, _ verdict: MerchantProbe.Verdict, now: Int64) {
        inFlight -= 1
        if let change = gate.record(verdict, of: probe, now: now) { reports.append(.circuit(change, publish: true)) }
        endWait(flushing: false)
    }

    /// A call finished with `write` (what `OrderCloser` decided), its merchant's signal, its
    /// latency sample and whether it reached WeChat Pay.
    mutating func callFinished(
        _ write: OrderWrite, circuit: CircuitSignal, load: ConcurrencyLimit.Sample,
        delivery: OutageLog.Seen?, now: Int64
    ) {
        let limitBefore = limit.limit
        limit.record(load, inFlight: inFlight, now: now)
        if limit.limit != limitBefore { reports.append(.concurrencyLimit(limit.limit)) }
        inFlight -= 1
        completer.add(write)
        if let delivery, let line = outage.record(delivery, now: now) { reports.append(.outage(line)) }
        if let change = gate.record(circuit, for: CircuitKey(write.order), now: now) {
            reports.append(.circuit(change, publish: true))
        }
        endWait(flushing: true)
    }

    /// The calls' task group ran empty.
    mutating func callsEnded() {
        step = .leave
    }

    // MARK: after the calls

    /// The completer's retry sleep ended at `now`: the database may be asked again.
    mutating func slept(now: Int64) {
        database.retry(noLaterThan: now)
        step = .flush(.outcomes, then: .finishCheck)
    }

    /// The service group gave up waiting: exit with what is left.
    mutating func sleepCancelled() {
        step = .exited
    }

    /// A child ended the wait: the next iteration; while stopping, each finished call is written at once.
    private mutating func endWait(flushing: Bool) {
        switch phase {
        case .running: step = .look
        case .stopping: step = flushing ? .flush(.outcomes, then: .stopTop) : .stopTop
        case .finishing: break
        }
    }
}
