import GatewayVocabulary

/// The one closed vocabulary of `close_attempts.outcome`, the same for API v2 and v3 and for close
/// and query rows (schema 6 refuses any other word, in both stores); the answer in words goes in
/// `error`. It also names the `outcome` label of `closeorderd_attempts_total` and the `outcome`
/// field of the attempt's log line, so internal names (such as a v3 204's) never reach them.
///
/// | outcome        | a close answered                           | a query answered                | `error` holds               |
/// |----------------|--------------------------------------------|---------------------------------|-----------------------------|
/// | closed         | closed now (v2 SUCCESS, v3 204)            | trade_state CLOSED or REVOKED   | – / `trade_state …`         |
/// | already_closed | ORDERCLOSED / ORDER_CLOSED                 | –                               | –                           |
/// | not_exist      | ORDERNOTEXIST / ORDER_NOT_EXIST            | the same                        | –                           |
/// | paid           | ORDERPAID                                  | trade_state SUCCESS or REFUND   | – / `trade_state …`         |
/// | not_paid       | –                                          | trade_state NOTPAY or PAYERROR  | `trade_state …`             |
/// | paying         | –                                          | trade_state USERPAYING or ACCEPT | `trade_state …`            |
/// | retry          | no usable answer (retried)                 | the same                        | `retry (reason)`            |
/// | config_error   | a merchant-wide setup fault                | the same                        | `configuration error (…)`   |
/// | order_rejected | a fault in this order's own parameters     | the same                        | `order rejected (…)`        |
/// | unknown_code   | an err_code closeorderd does not know      | the same                        | `unknown err_code …`        |
///
/// A v3 close answer that names no order (`CloseOutcome.unconfirmed`) is recorded as what it
/// said (204 `closed`, ORDER_CLOSED `already_closed`, …); the query row after it says whether it held.
public enum AuditOutcome: String, Sendable, Hashable, CaseIterable {
    case closed
    case alreadyClosed = "already_closed"
    case notExist = "not_exist"
    case paid
    case notPaid = "not_paid"
    case paying
    case retry
    case configError = "config_error"
    case orderRejected = "order_rejected"
    case unknownCode = "unknown_code"

    public init(_ close: CloseOutcome) {
        switch close {
        case .closed, .unconfirmed(.closed): self = .closed
        case .alreadyClosed, .unconfirmed(.alreadyClosed): self = .alreadyClosed
        case .notExist, .unconfirmed(.notExist): self = .notExist
        case .paid: self = .paid
        case .retryable: self = .retry
        case .configurationError: self = .configError
        case .orderRejected, .unconfirmed(.rejected): self = .orderRejected
        case .unknownCode: self = .unknownCode
        }
    }

    public init(_ query: QueryOutcome) {
        switch query {
        case .state(let state, _):
            switch state {
            case .success, .refund: self = .paid
            case .closed, .revoked: self = .closed
            case .notPay, .payError: self = .notPaid
            case .userPaying, .accept: self = .paying
            }
        case .notExist: self = .notExist
        case .retryable: self = .retry
        case .configurationError: self = .configError
        case .orderRejected: self = .orderRejected
        case .unknownCode: self = .unknownCode
        }
    }

    /// The words for a close row's `error`, when the outcome does not say it all.
    public static func words(_ close: CloseOutcome) -> String? {
        switch close {
        case .retryable, .configurationError, .orderRejected, .unknownCode: close.description
        case .unconfirmed(.rejected(let reason)): CloseOutcome.orderRejected(reason).description
        case .closed, .alreadyClosed, .notExist, .paid, .unconfirmed: nil
        }
    }

    /// The words for a query row's `error`: the trade_state itself, or why there was none.
    public static func words(_ query: QueryOutcome) -> String? {
        switch query {
        case .state(let state, _): "trade_state \(state.rawValue)"
        case .notExist: nil
        case .retryable, .configurationError, .orderRejected, .unknownCode: query.description
        }
    }
}
