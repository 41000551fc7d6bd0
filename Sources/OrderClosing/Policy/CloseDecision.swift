import WeChatPayV2

/// Pure decisions about a claimed order once WeChat has answered (design.md §3).
///
/// | answer                          | decision                                          |
/// |---------------------------------|---------------------------------------------------|
/// | closed, ORDERCLOSED, NOTEXIST   | `closed` with the answer as outcome               |
/// | ORDERPAID                       | query for transaction_id, then `paid`             |
/// | unknown err_code                | query: paid → `paid`, closed → `closed`, else retry |
/// | retryable, delivered            | backoff (burns the attempt), `failed` when spent  |
/// | retryable, not delivered        | wait out the outage, attempt given back           |
/// | configuration error             | pause the merchant, attempt given back            |
public enum CloseDecision {
    public enum Next: Sendable, Hashable {
        case change(OrderChange)
        /// Ask `pay/orderquery` before deciding; `errCode` is why.
        case query(because: String)
        case pauseMerchant(reason: String)
    }

    public static func afterClose(_ order: ClaimedOrder, outcome: CloseOutcome, delivered: Bool, now: Int64,
                                  retry: RetryPolicy, jitterUnit: Double) -> Next {
        switch outcome {
        case .closed, .alreadyClosed, .notExist:
            return .change(.finish(.closed, outcome: outcome.label, transactionID: nil, reason: nil))
        case .paid:
            return .query(because: "ORDERPAID")
        case .unknownCode(let code):
            return .query(because: code)
        case .configurationError(let reason):
            return .pauseMerchant(reason: reason)
        case .orderRejected:
            // This order alone: backoff, then `failed` with the reason; the merchant is not paused.
            return .change(retrying(order, reason: outcome.description, inDoubt: order.inDoubt, delivered: true,
                                    now: now, retry: retry, jitterUnit: jitterUnit))
        case .retryable(let reason):
            let inDoubt = order.inDoubt || (delivered && leavesOutcomeUnknown(reason))
            return .change(retrying(order, reason: reason.description, inDoubt: inDoubt, delivered: delivered,
                                    now: now, retry: retry, jitterUnit: jitterUnit))
        }
    }

    /// After ORDERPAID or an unknown code, what the query says settles it, or the order is retried.
    public static func afterQuery(_ order: ClaimedOrder, because: String, query: QueryOutcome?, now: Int64,
                                  retry: RetryPolicy, jitterUnit: Double) -> OrderChange {
        if case .state(let state, let transactionID) = query {
            if state.isPaid { return .finish(.paid, outcome: "paid", transactionID: transactionID, reason: nil) }
            if state == .closed { return .finish(.closed, outcome: "already_closed", transactionID: nil, reason: nil) }
        }
        if because == "ORDERPAID" {
            // A signed ORDERPAID is believed on its own; the query only adds the transaction id.
            return .finish(.paid, outcome: "paid", transactionID: nil,
                           reason: "ORDERPAID; the reconciling query gave \(query.map(String.init(describing:)) ?? "no answer")")
        }
        let seen = query.map { "; query: \($0)" } ?? ""
        return retrying(order, reason: "err_code \(because)\(seen)", inDoubt: order.inDoubt, delivered: true,
                        now: now, retry: retry, jitterUnit: jitterUnit)
    }

    /// A merchant-wide pause: the attempt is given back and the order waits for the circuit.
    public static func paused(_ order: ClaimedOrder, reason: String, until: Int64) -> OrderChange {
        .retry(at: until, reason: "merchant paused: \(reason)", inDoubt: order.inDoubt, refundAttempt: true)
    }

    static func retrying(_ order: ClaimedOrder, reason: String, inDoubt: Bool, delivered: Bool, now: Int64,
                         retry: RetryPolicy, jitterUnit: Double) -> OrderChange {
        let nextAt = now + (delivered ? retry.delay(afterAttempt: order.attempt, unit: jitterUnit) : retry.outageDelayMs)
        let spentAttempts = delivered ? order.attempt : order.attempt - 1
        if let exhausted = retry.exhaustion(attempt: delivered ? spentAttempts : 0, firstAttemptAt: order.firstAttemptAt, nextAt: nextAt) {
            return .finish(.failed, outcome: nil, transactionID: nil, reason: "\(exhausted); last error: \(reason)")
        }
        return .retry(at: nextAt, reason: reason, inDoubt: inDoubt, refundAttempt: !delivered)
    }

    /// Failures after which WeChat may have acted without our knowing (or believing) the answer.
    /// SYSTEMERROR, FREQUENCY_LIMITED and HTTP errors are answers that nothing was done.
    static func leavesOutcomeUnknown(_ reason: RetryReason) -> Bool {
        switch reason {
        case .timeout(let afterSending): afterSending
        case .connection, .unparseable, .badSignature: true
        case .systemError, .frequencyLimited, .httpStatus: false
        }
    }
}
