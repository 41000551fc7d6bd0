/// What the closing loop keeps between iterations. Owned by the loop's task alone.
///
/// The loop's phases, and the flags that say which one it is in:
///
/// | phase     | drained | stopping | what wakes the loop                                   |
/// |-----------|---------|----------|-------------------------------------------------------|
/// | busy      | false   | false    | each finished call (it claims more)                   |
/// | idle      | true    | false    | the timer: next due time, poll, circuit, rate token   |
/// | draining  | —       | true     | each finished call, then the grace period's end       |
struct LoopState {
    var gate: MerchantGate
    /// Calls allowed in flight now: grows while latency is flat, shrinks on pushback.
    var limit: ConcurrencyLimit
    /// Finished calls whose outcomes are not written yet; they ride in the next claim's transaction.
    var pending: [OrderWrite] = []
    /// Claimed orders given back without a call (a circuit opened, or shutdown).
    var unstarted: [ClaimedOrder] = []
    /// Claimed and leased, waiting for a free slot: one batch ahead, so a finished call is
    /// replaced at once instead of after a claim's round trip to the database. Their rate tokens
    /// are already taken, so they never wait for one; one whose lease can no longer cover an
    /// attempt (the limit shrank, calls ran long) is given back instead of started.
    var ready: [Leased] = []
    var inFlight = 0
    /// The last claim came back short: nothing more is due until the next timer wakes the loop.
    /// While it is false, finished calls drive the loop and no timer or due-time query is needed.
    var drained = false
    /// Set by a timer: read the next due time before claiming, so an idle poll costs a read, not
    /// a write transaction. The answer is kept for `scheduleWaker` in the same iteration:
    /// `.none` when nothing was probed, `.some(nil)` when no order is pending at all.
    var probeBeforeClaim = false
    var probedDueTime: Int64??
    var wakerRunning = false
    var stopping = false
    var graceArmed = false
    /// When stopping began plus the grace period: the in-flight calls' and the last writes' limit.
    var graceDeadline: Int64?
    /// While the database refuses work: no claims before this time (unix ms).
    var databaseRetryAt: Int64 = 0
    var databaseFailures = 0
    /// The `MerchantDirectory` version the gate was built from.
    var directoryVersion = 0
    /// The merchants that version serves: one that leaves the config gets its circuit row closed.
    var servedMerchants: Set<String> = []
    /// When to read the operators' pauses again (once per poll interval).
    var nextPauseCheck: Int64 = 0
    /// Whether WeChat Pay is in an outage: the journal says so once at each end.
    var outage = OutageLog()

    /// A claimed order and the end of its lease (unix ms).
    struct Leased {
        let order: ClaimedOrder
        let until: Int64
    }

    init(gate: MerchantGate, limit: ConcurrencyLimit) {
        self.gate = gate
        self.limit = limit
    }

    /// Backoff after the n-th database failure in a row: 250 ms doubling to 30 s.
    ///
    /// | failures | 1      | 2      | 3   | 4   | 5   | 6   | 7    | ≥ 8  |
    /// |----------|--------|--------|-----|-----|-----|-----|------|------|
    /// | wait     | 250 ms | 500 ms | 1 s | 2 s | 4 s | 8 s | 16 s | 30 s |
    static func databaseBackoffMs(failures: Int) -> Int64 {
        min(Int64(250) << min(max(failures - 1, 0), 7), 30_000)
    }
}

extension Array {
    /// The elements that satisfy `keep`, and the rest, each in order.
    func partitioned(_ keep: (Element) -> Bool) -> (kept: [Element], rest: [Element]) {
        var kept: [Element] = [], rest: [Element] = []
        for element in self { if keep(element) { kept.append(element) } else { rest.append(element) } }
        return (kept, rest)
    }
}
