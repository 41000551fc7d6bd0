/// `closeorderd list`: which orders to show, newest first.
public struct OrderFilter: Sendable, Hashable {
    public var status: OrderStatus?
    public var mchID: String?
    /// Undecided and past their own due time (whatever their retry time).
    public var overdueOnly = false
    /// Placed at least this many seconds before `now`.
    public var olderThanSeconds: Int64?
    public var limit = 100

    public init(
        status: OrderStatus? = nil, mchID: String? = nil, overdueOnly: Bool = false, olderThanSeconds: Int64? = nil,
        limit: Int = 100
    ) {
        self.status = status
        self.mchID = mchID
        self.overdueOnly = overdueOnly
        self.olderThanSeconds = olderThanSeconds
        self.limit = limit
    }
}

/// One line of `list`.
public struct OrderLine: Sendable, Codable, Hashable {
    public let mchID: String
    public let outTradeNo: String
    public let status: String
    public let outcome: String?
    public let attempts: Int
    public let inDoubt: Bool
    /// ISO-8601 (UTC): when it was placed, when it falls (fell) due, when it is tried next.
    public let createdAt: String
    public let dueAt: String
    public let nextAttemptAt: String?
    /// Seconds past its own due time while undecided; 0 otherwise.
    public let overdueSeconds: Int64
    public let lastError: String?

    /// A row as the stores read it: `dueMs` its own due time, `nextAttemptMs` the stored
    /// `next_attempt_ms`, `now` the store's clock (unix ms).
    public init(
        mchID: String, outTradeNo: String, status: String, outcome: String?, attempts: Int, inDoubt: Bool,
        createdAt: Int64, dueMs: Int64, nextAttemptMs: Int64, lastError: String?, now: Int64
    ) {
        let open = status == OrderStatus.pending.rawValue || status == OrderStatus.closing.rawValue
        self.mchID = mchID
        self.outTradeNo = outTradeNo
        self.status = status
        self.outcome = outcome
        self.attempts = attempts
        self.inDoubt = inDoubt
        self.createdAt = TimeText.iso8601(createdAt * 1000)
        dueAt = TimeText.iso8601(dueMs)
        nextAttemptAt = status == OrderStatus.pending.rawValue ? TimeText.iso8601(max(nextAttemptMs, dueMs)) : nil
        overdueSeconds = open ? max(0, (now - dueMs) / 1000) : 0
        self.lastError = lastError
    }
}
