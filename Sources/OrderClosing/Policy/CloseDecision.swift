import GatewayVocabulary

/// Pure decisions about a claimed order once WeChat has answered (design.md §3).
///
/// | close answer                    | decision                                                   |
/// |---------------------------------|------------------------------------------------------------|
/// | closed, ORDERCLOSED, NOTEXIST   | `closed` with the answer as outcome                        |
/// | ORDERPAID (signed)              | query: the table below                                     |
/// | unknown err_code                | query: the table below                                     |
/// | unconfirmed (v3: 204, ORDER_CLOSED, ORDER_NOT_EXIST, INVALID_REQUEST) | query: the table below |
/// | FREQUENCY_LIMITED, HTTP 429     | retry after ~1 s, attempt given back (pushback is not the order's) |
/// | retryable, delivered            | backoff (burns the attempt), `failed` when spent           |
/// | retryable, not delivered        | wait out the outage, attempt given back                    |
/// | order rejected (its parameters) | backoff (burns the attempt), `failed` with the reason      |
/// | configuration error             | pause the merchant's circuit, attempt given back           |
///
/// After the query (`trade_state`, v2 and v3 alike):
///
/// | trade_state        | after ORDERPAID                      | after an unknown code or an unconfirmed claim | after INVALID_REQUEST (v3) |
/// |--------------------|--------------------------------------|-----------------------------------|------------------------------|
/// | SUCCESS, REFUND    | `paid`, transaction_id recorded      | `paid`, transaction_id            | `paid`, transaction_id       |
/// | CLOSED, REVOKED    | contradiction: `failed` + `conflict` | `closed` (already_closed; `closed` after v3's 204) | `closed` (already_closed) |
/// | NOTPAY, PAYERROR   | contradiction: `failed` + `conflict` | retry the close (backoff)         | the refusal stands (backoff, then `failed`) |
/// | USERPAYING, ACCEPT | `paid` (money is moving; no id yet)  | retry later (backoff)             | the refusal stands           |
/// | order not exist    | `paid` (a signed ORDERPAID stands)   | `closed` (not_exist)              | the refusal stands           |
/// | no usable answer   | `paid` (a signed ORDERPAID stands)   | retry later (backoff)             | the refusal stands           |
///
/// Unconfirmed claims are v3 answers that name no order (`UnconfirmedClose`): a 204 does not
/// tell a fresh close from a repeated one or from an order WeChat never saw, and a signed
/// ORDER_CLOSED, ORDER_NOT_EXIST or INVALID_REQUEST could be another order's, replayed. Only the
/// query, whose answer echoes the order, decides; a paid order whose notification was missed
/// ends `paid`, never `closed` or `failed`.
///
/// A contradiction about money is never settled by the daemon: the order ends `failed` with the
/// contradiction in `conflict` and `last_error`, logged at error level, for a person to check.
public enum CloseDecision {
    public enum Next: Sendable, Hashable {
        case change(OrderChange)
        /// Ask `pay/orderquery` before deciding.
        case query(because: QueryReason)
        case pauseMerchant(reason: String)
    }

    /// Why a close is followed by a query; its description is the reason's words in `last_error`.
    public enum QueryReason: Sendable, Hashable, CustomStringConvertible {
        /// A signed ORDERPAID: believed on its own; the query adds the transaction id.
        case orderPaid
        /// An err_code closeorderd does not know: never assume.
        case unknownCode(String)
        /// A v3 answer that names no order: the query confirms or refutes it.
        case unconfirmed(UnconfirmedClose)

        public var description: String {
            switch self {
            case .orderPaid: "ORDERPAID"
            case .unknownCode(let code): "err_code \(code)"
            case .unconfirmed(let claim): claim.description
            }
        }
    }

    public static let orderPaid = QueryReason.orderPaid

    public static func afterClose(
        _ order: ClaimedOrder, outcome: CloseOutcome, delivered: Bool, now: Int64,
        retry: RetryPolicy, jitterUnit: Double
    ) -> Next {
        switch outcome {
        case .closed, .alreadyClosed, .notExist:
            return .change(.finish(.closed, outcome: AuditOutcome(outcome).rawValue, transactionID: nil, reason: nil))
        case .paid:
            return .query(because: .orderPaid)
        case .unknownCode(let code):
            return .query(because: .unknownCode(code))
        case .unconfirmed(let claim):
            return .query(because: .unconfirmed(claim))
        case .configurationError(let reason):
            return .pauseMerchant(reason: reason.reason)
        case .orderRejected(let reason):
            return .change(
                retrying(
                    order, reason: "WeChat refused this order: \(reason)", inDoubt: order.inDoubt,
                    delivered: true, now: now, retry: retry, jitterUnit: jitterUnit))
        case .retryable(let reason):
            let inDoubt = order.inDoubt || (delivered && leavesOutcomeUnknown(reason))
            if isPushback(reason) {
                // WeChat asked us to slow down: the order did nothing wrong, so its attempt is given
                // back; it waits the short pushback delay, and the time window still bounds it.
                let nextAt = now + retry.pushbackDelay(unit: jitterUnit)
                if let exhausted = retry.exhaustion(attempt: 0, firstAttemptAt: order.firstAttemptAt, nextAt: nextAt) {
                    return .change(
                        .finish(.failed, outcome: nil, transactionID: nil, reason: "\(exhausted); last error: \(reason)"))
                }
                return .change(.retry(at: nextAt, reason: reason.description, inDoubt: inDoubt, refundAttempt: true))
            }
            return .change(
                retrying(
                    order, reason: reason.description, inDoubt: inDoubt, delivered: delivered,
                    now: now, retry: retry, jitterUnit: jitterUnit))
        }
    }

    /// After ORDERPAID, an unknown code or an unconfirmed claim, what the query says settles it (the tables above).
    public static func afterQuery(
        _ order: ClaimedOrder, because: QueryReason, query: QueryOutcome?, now: Int64,
        retry: RetryPolicy, jitterUnit: Double
    ) -> OrderChange {
        let paidClaimed = because == .orderPaid
        // INVALID_REQUEST: only a paid or closed order overrules the refusal.
        let refused: Bool = if case .unconfirmed(.rejected) = because { true } else { false }
        if case .state(let state, let transactionID) = query {
            switch state {
            case .success, .refund:
                return .finish(.paid, outcome: "paid", transactionID: transactionID, reason: nil)
            case .closed, .revoked, .notPay, .payError:
                if paidClaimed {
                    return .contradiction(
                        "WeChat answered ORDERPAID (signed) to the close, but its query says trade_state "
                            + "\(state.rawValue); a person must check this order")
                }
                if state == .closed || state == .revoked {
                    // After v3's 204 the query confirms this close; otherwise someone closed it before.
                    let outcome = because == .unconfirmed(.closed) ? "closed" : "already_closed"
                    return .finish(.closed, outcome: outcome, transactionID: nil, reason: nil)
                }
            case .userPaying, .accept:
                if paidClaimed {
                    return .finish(
                        .paid, outcome: "paid", transactionID: transactionID,
                        reason: "ORDERPAID; the query says \(state.rawValue) (payment still settling)")
                }
            }
        }
        if !paidClaimed, !refused, case .notExist = query {
            // As a close's ORDERNOTEXIST: an order WeChat never saw cannot be paid.
            return .finish(.closed, outcome: "not_exist", transactionID: nil, reason: nil)
        }
        if paidClaimed {
            // A signed ORDERPAID is believed on its own; the query only adds the transaction id.
            return .finish(
                .paid, outcome: "paid", transactionID: nil,
                reason: "ORDERPAID; the reconciling query gave \(query.map(String.init(describing:)) ?? "no answer")")
        }
        let seen = query.map { "; query: \($0)" } ?? ""
        return retrying(
            order, reason: "\(because)\(seen)", inDoubt: order.inDoubt, delivered: true,
            now: now, retry: retry, jitterUnit: jitterUnit)
    }

    /// A merchant-wide pause: the attempt is given back and the order waits for the circuit.
    public static func paused(_ order: ClaimedOrder, reason: String, until: Int64) -> OrderChange {
        .retry(at: until, reason: "merchant paused: \(reason)", inDoubt: order.inDoubt, refundAttempt: true)
    }

    static func retrying(
        _ order: ClaimedOrder, reason: String, inDoubt: Bool, delivered: Bool, now: Int64,
        retry: RetryPolicy, jitterUnit: Double
    ) -> OrderChange {
        let nextAt = now + (delivered ? retry.delay(afterAttempt: order.attempt, unit: jitterUnit) : retry.outageDelayMs)
        let spentAttempts = delivered ? order.attempt : order.attempt - 1
        if let exhausted = retry.exhaustion(
            attempt: delivered ? spentAttempts : 0, firstAttemptAt: order.firstAttemptAt, nextAt: nextAt)
        {
            return .finish(.failed, outcome: nil, transactionID: nil, reason: "\(exhausted); last error: \(reason)")
        }
        return .retry(at: nextAt, reason: reason, inDoubt: inDoubt, refundAttempt: !delivered)
    }

    /// WeChat's own "too much": FREQUENCY_LIMITED and HTTP 429.
    public static func isPushback(_ reason: RetryReason) -> Bool {
        switch reason {
        case .frequencyLimited: true
        case .httpStatus(let status): status == 429
        default: false
        }
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
