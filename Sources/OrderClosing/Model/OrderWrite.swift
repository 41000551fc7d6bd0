import WeChatPayV2

/// One call to WeChat Pay, as appended to `close_attempts`. Holds no sign and no key.
public struct AttemptRecord: Sendable, Hashable {
    public enum Call: String, Sendable, Hashable { case closeOrder = "closeorder", orderQuery = "orderquery" }

    public let call: Call
    public let attempt: Int
    public let startedAt: Int64
    public let finishedAt: Int64
    public let endpoint: String?
    public let response: ResponseSummary
    /// What the answer said, in the one audit vocabulary (`AuditOutcome`).
    public let outcome: AuditOutcome
    /// The answer in words where the outcome does not say it all (`AuditOutcome.words`).
    public let error: String?

    public init(call: Call, attempt: Int, startedAt: Int64, finishedAt: Int64, endpoint: String?,
                response: ResponseSummary, outcome: AuditOutcome, error: String?) {
        self.call = call
        self.attempt = attempt
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.endpoint = endpoint
        self.response = response
        self.outcome = outcome
        self.error = error
    }
}

/// What becomes of a claimed order after its attempt.
public enum OrderChange: Sendable, Hashable {
    /// Decided: `closed`, `paid` or `failed`. `outcome` is what WeChat answered (e.g. `already_closed`).
    case finish(OrderStatus, outcome: String?, transactionID: String?, reason: String?)
    /// Back to `pending`, due again at `at` (unix ms). `refundAttempt` gives back an attempt that
    /// never reached WeChat (outage) or was not the order's fault (merchant circuit).
    case retry(at: Int64, reason: String, inDoubt: Bool, refundAttempt: Bool)
    /// WeChat contradicted itself about money (a signed ORDERPAID, then a query saying it is not
    /// paid): the order ends `failed` with the contradiction in `conflict`, for a person.
    case contradiction(String)
}

/// Everything the daemon writes about one claim, in one compare-and-set.
public struct OrderWrite: Sendable, Hashable {
    public let order: ClaimedOrder
    public let change: OrderChange
    public let attempts: [AttemptRecord]

    public init(order: ClaimedOrder, change: OrderChange, attempts: [AttemptRecord]) {
        self.order = order
        self.change = change
        self.attempts = attempts
    }
}

/// How a write landed.
public enum WriteResult: Sendable, Hashable {
    case applied
    /// The lease was lost or the merchant changed the row first; the row keeps the merchant's
    /// status (reported here) and the daemon's answer is recorded beside it.
    case conflict(current: OrderStatus?)
}
