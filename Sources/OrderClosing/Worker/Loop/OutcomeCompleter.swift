/// The loop's completer, as River's completer is: the outcomes of finished calls and the claims
/// given back unstarted, queued until a transaction writes them. Pure: the loop
/// (`ClosingLoopMachine`) asks it what to write and tells it what was written; a write the
/// database refuses stays queued and is tried again after `DatabaseBackoff`'s wait.
///
/// When the queue is written on its own (a claim carries the outcomes in its transaction anyway):
///
/// | queued                                                   | written                          |
/// |----------------------------------------------------------|----------------------------------|
/// | a claim given back unstarted                             | at once (released)               |
/// | ≥ `batchSize` outcomes                                   | at once                          |
/// | queue drained and outcomes ≥ min(calls in flight, batch) | at once: a tail of n calls costs about log2(n) commits, not n |
/// | otherwise (or nothing queued)                            | with the next claim              |
/// | the loop is stopping                                     | after every finished call        |
///
/// After the calls have ended (shutdown), what a refused write left queued is tried again on the
/// database backoff, the last try at the grace period's end. Exiting at the first refusal lost
/// the outcomes of a database restart's last seconds.
///
/// | database after the refusal | result                                                    |
/// |----------------------------|-----------------------------------------------------------|
/// | back within the grace      | recorded at the first backoff step after it came back     |
/// | down for the whole grace   | one last try at the grace's end; then exit, rows in doubt |
struct OutcomeCompleter: Equatable {
    /// A write of the queue: the outcomes first, then the give-backs.
    enum Stage: Hashable { case outcomes, releases }

    /// Finished calls whose outcomes are not written yet; they ride in the next claim's transaction.
    private(set) var outcomes: [OrderWrite] = []
    /// Claimed orders given back without a call (a circuit opened, a lease ran short, shutdown).
    private(set) var unstarted: [ClaimedOrder] = []

    var isEmpty: Bool { outcomes.isEmpty && unstarted.isEmpty }
    /// What is still unwritten: outcomes and give-backs.
    var count: Int { outcomes.count + unstarted.count }

    mutating func add(_ write: OrderWrite) { outcomes.append(write) }
    mutating func giveBack(_ order: ClaimedOrder) { unstarted.append(order) }
    mutating func giveBack(_ orders: [ClaimedOrder]) { unstarted += orders }

    /// Whether the queue is written now without waiting for a claim (the first table).
    func isDue(queueDrained: Bool, inFlight: Int, batchSize: Int) -> Bool {
        !unstarted.isEmpty
            || (!outcomes.isEmpty
                && (outcomes.count >= batchSize || (queueDrained && outcomes.count >= min(inFlight, batchSize))))
    }

    /// The write of `stage`, if it has something to write and the database may be asked.
    func write(_ stage: Stage, databaseOpen: Bool) -> LoopDatabaseCall? {
        guard databaseOpen else { return nil }
        switch stage {
        case .outcomes: return outcomes.isEmpty ? nil : .record(outcomes)
        case .releases: return unstarted.isEmpty ? nil : .release(unstarted)
        }
    }

    /// The first `count` outcomes were written (alone or in a claim's transaction).
    mutating func recorded(_ count: Int) {
        if count == outcomes.count { outcomes = [] } else { outcomes.removeFirst(count) }
    }

    /// The first `count` give-backs were released.
    mutating func released(_ count: Int) {
        if count == unstarted.count { unstarted = [] } else { unstarted.removeFirst(count) }
    }

    /// After the calls: when to try the queue again (the second table); nil: stop, and exit
    /// with what is left unwritten (those rows are rescued as in doubt).
    func nextTry(now: Int64, retryAt: Int64, graceDeadline: Int64?) -> Int64? {
        guard let graceDeadline, !isEmpty, now < graceDeadline else { return nil }
        return min(retryAt, graceDeadline)
    }
}
