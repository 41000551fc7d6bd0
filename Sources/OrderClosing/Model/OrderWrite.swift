import GatewayVocabulary

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

    public init(
        call: Call, attempt: Int, startedAt: Int64, finishedAt: Int64, endpoint: String?,
        response: ResponseSummary, outcome: AuditOutcome, error: String?
    ) {
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
    /// The merchant marked the row paid while its close was in flight: the row stays `paid`, and
    /// WeChat's verdict, if the write carried one, is recorded in `conflict`.
    case conflict(current: OrderStatus?)
    /// The lease was taken back by another daemon's rescue (it expired) and the row has moved on
    /// (`current`; nil: deleted). Nothing is written to the row; the attempts are in the audit.
    case leaseLost(current: OrderStatus?)
}

extension OrderWrite {
    /// What a write that lost its compare-and-set means, from the row as it is now; every store
    /// decides it here, so none can word it differently (issue 21).
    ///
    /// | the row now                                   | result            | `conflict` written                   |
    /// |-----------------------------------------------|-------------------|--------------------------------------|
    /// | `paid` by the merchant (no `outcome`)         | `.conflict(paid)` | WeChat's verdict, if the write had one |
    /// | anything else (another daemon holds or        | `.leaseLost`      | nothing                              |
    /// |   decided it after a rescue), or gone         |                   |                                      |
    ///
    /// A verdict is a finish with an `outcome` (closed, already_closed, not_exist, paid) or a
    /// contradiction; a retry or a local "failed" (retries spent) is none.
    public func lostCompareAndSet(current: OrderStatus?, outcome: String?) -> (result: WriteResult, conflict: String?) {
        guard current == .paid, outcome == nil else { return (.leaseLost(current: current), nil) }
        let note: String? =
            switch change {
            case .finish(_, let verdict?, _, _): "WeChat answered \(verdict) while the row was paid"
            case .contradiction(let text): "\(text) (while the row was paid)"
            case .finish, .retry: nil
            }
        return (.conflict(current: .paid), note)
    }
}
