/// The daemon's view of the merchant's database. One adapter: `SQLiteOrderStore`.
///
/// Every method is one short transaction; none is held across a call to WeChat Pay.
public protocol OrderStore: Sendable {
    /// Applies `writes` (as `record` does), then leases up to `limit` orders due at `now` (unix
    /// ms), counting an attempt on each, all in one transaction: at full speed the loop takes the
    /// write lock once per batch instead of twice, which leaves the merchant's app more room.
    /// Orders of `excludedMerchants` (open circuits) are left alone.
    func recordAndClaim(_ writes: [OrderWrite], now: Int64, limit: Int, excludedMerchants: Set<String>,
                        leaseOwner: String, leaseUntil: Int64) async throws -> (recorded: [WriteResult], claimed: [ClaimedOrder])

    /// Applies each write as a compare-and-set on its lease token, and appends its attempts.
    func record(_ writes: [OrderWrite], now: Int64) async throws -> [WriteResult]

    /// Gives claimed but unstarted orders back, without counting their attempt.
    func release(_ orders: [ClaimedOrder], now: Int64) async throws

    /// Returns orders whose lease expired (a crashed daemon) to `pending`, marked in doubt.
    func rescueExpiredLeases(now: Int64) async throws -> Int

    /// The earliest time (unix ms) a pending order of a merchant not in `excludedMerchants` falls due.
    func nextDueTime(excludedMerchants: Set<String>) async throws -> Int64?

    /// Publishes a fact for operators (e.g. `circuit:1900000109` → `open: SIGNERROR …`).
    func publish(_ key: String, _ value: String, now: Int64) async throws

    /// Due and in-flight counts (`due`, `closing`) and the oldest overdue pending order, for
    /// heartbeats. Cheap: it must not scan finished rows, nor orders waiting for their time.
    func summary(now: Int64) async throws -> QueueSummary
}

extension OrderStore {
    /// Leases up to `limit` due orders, recording nothing.
    public func claimDue(now: Int64, limit: Int, excludedMerchants: Set<String>, leaseOwner: String,
                         leaseUntil: Int64) async throws -> [ClaimedOrder] {
        try await recordAndClaim([], now: now, limit: limit, excludedMerchants: excludedMerchants,
                                 leaseOwner: leaseOwner, leaseUntil: leaseUntil).claimed
    }
}

/// A snapshot of the queue.
public struct QueueSummary: Sendable, Hashable, Codable {
    public var counts: [String: Int]
    /// How far past its due time the oldest due pending order is, in ms (0 if none is due).
    public var oldestDueLagMs: Int64
    public var inDoubt: Int

    public init(counts: [String: Int], oldestDueLagMs: Int64, inDoubt: Int) {
        self.counts = counts
        self.oldestDueLagMs = oldestDueLagMs
        self.inDoubt = inDoubt
    }
}
