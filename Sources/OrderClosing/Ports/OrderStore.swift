/// The daemon's view of the merchant's database. Adapters: `SQLiteOrderStore`, and the in-memory
/// store of the tests; every adapter passes the one conformance suite (`StoreConformanceTests`).
///
/// Every method is one short transaction; none is held across a call to WeChat Pay. Every method
/// takes `now` (unix ms) from the daemon's clock, as River passes `now` into every query.
public protocol OrderStore: Sendable {
    /// Applies `writes` (as `record` does), then leases the orders `claim` admits that are due at
    /// `now`, counting an attempt on each, all in one transaction: at full speed the loop takes the
    /// write lock once per batch instead of twice, which leaves the merchant's app more room.
    func recordAndClaim(
        _ writes: [OrderWrite], claim: ClaimRequest, now: Int64,
        leaseOwner: String, leaseUntil: Int64
    ) async throws -> (recorded: [WriteResult], claimed: [ClaimedOrder])

    /// Applies each write as a compare-and-set on its lease token, and appends its attempts.
    /// A decided outcome also lands on a row whose lease was rescued but not yet claimed again:
    /// WeChat's answer is worth more than the rescue's "in doubt".
    func record(_ writes: [OrderWrite], now: Int64) async throws -> [WriteResult]

    /// Gives claimed but unstarted orders back, without counting their attempt.
    func release(_ orders: [ClaimedOrder], now: Int64) async throws

    /// Returns orders whose lease expired (a crashed daemon) to `pending`, marked in doubt. Leases
    /// of `sparing` (the calling daemon, which knows its own calls) are left alone.
    func rescueExpiredLeases(now: Int64, sparing: String?) async throws -> [RescuedOrder]

    /// The earliest time (unix ms) a pending order that `claim` admits falls due.
    func nextDueTime(admittedBy claim: ClaimRequest) async throws -> Int64?

    /// Publishes a fact for operators (e.g. `circuit:1900000109` → `open: SIGNERROR …`).
    func publish(_ key: String, _ value: String, now: Int64) async throws

    /// Merchants an operator paused (`closeorderd pause`): mch_id → the reason given. Every daemon
    /// on the database honours them.
    func pausedMerchants() async throws -> [String: String]

    /// Writes this daemon's heartbeat row (last seen = `now`).
    func announce(_ daemon: DaemonRecord, now: Int64) async throws

    /// Every daemon's heartbeat row, with its last-seen time.
    func daemons() async throws -> [DaemonRecord]

    /// Removes a daemon's heartbeat row: a clean stop, or a dead neighbour whose leases were rescued.
    func forget(daemon owner: String) async throws

    /// Takes back, at once and in doubt, every order leased by `owner` — a daemon known to be dead
    /// (same host and boot, its pid gone), whose leases need not run out first.
    func rescueLeases(heldBy owner: String, now: Int64) async throws -> [RescuedOrder]

    /// Due and in-flight counts (`due`, `closing`) and the oldest overdue pending order, for
    /// heartbeats. Cheap: it must not scan finished rows, nor orders waiting for their time.
    func summary(now: Int64) async throws -> QueueSummary

    // MARK: Retention (`RetentionService`, `closeorderd prune`)

    /// Deletes up to `limit` finished orders (`closed`, `paid`, `failed`) that finished before
    /// `cutoff` (unix ms), oldest first, with their `close_attempts` rows, in one short
    /// transaction. A row the merchant marked paid has no finish time: its `created_at` stands in.
    /// Orders still `pending` or `closing` are never deleted, however old.
    func pruneFinishedOrders(finishedBefore cutoff: Int64, limit: Int) async throws -> PrunedOrders

    /// What `pruneFinishedOrders` would delete with no limit, counted and not changed (`--dry-run`).
    func countFinishedOrders(finishedBefore cutoff: Int64) async throws -> PrunedOrders

    /// Gives up to `pages` free pages back to the filesystem (SQLite's incremental vacuum), in one
    /// short transaction; returns how many free pages are left to give back. 0 when the store
    /// cannot or need not give space back step by step (another auto_vacuum mode, PostgreSQL's
    /// autovacuum, memory).
    func reclaimFreeSpace(pages: Int) async throws -> Int
}

extension OrderStore {
    /// Leases due orders, recording nothing.
    public func claimDue(_ claim: ClaimRequest, now: Int64, leaseOwner: String, leaseUntil: Int64) async throws -> [ClaimedOrder]
    {
        try await recordAndClaim([], claim: claim, now: now, leaseOwner: leaseOwner, leaseUntil: leaseUntil).claimed
    }
}

/// An order a rescue gave back, named for the log.
public struct RescuedOrder: Sendable, Hashable {
    public let mchID: String
    public let outTradeNo: String

    public init(mchID: String, outTradeNo: String) {
        self.mchID = mchID
        self.outTradeNo = outTradeNo
    }
}

/// A snapshot of the queue.
public struct QueueSummary: Sendable, Hashable, Codable {
    public var counts: [String: Int]
    /// How far past its due time the oldest claimable pending order is, in ms (0 if none is due):
    /// the loop's own lag.
    public var oldestDueLagMs: Int64
    public var inDoubt: Int
    /// Orders not yet decided (pending or closing) past their own due time, whatever their retry
    /// time: what an outage, an open circuit or a paused merchant leaves behind. Alert on these.
    public var overdue: Int
    /// How far past its own due time the oldest of them is, in ms (0 if none).
    public var oldestOverdueMs: Int64

    public init(counts: [String: Int], oldestDueLagMs: Int64, inDoubt: Int, overdue: Int = 0, oldestOverdueMs: Int64 = 0) {
        self.counts = counts
        self.oldestDueLagMs = oldestDueLagMs
        self.inDoubt = inDoubt
        self.overdue = overdue
        self.oldestOverdueMs = oldestOverdueMs
    }
}
