/// Why a call is worth trying again.
public enum RetryReason: Sendable, Hashable, CustomStringConvertible {
    case systemError
    case frequencyLimited
    case httpStatus(Int)
    /// The total timeout ran out; `afterSending` means WeChat may have acted on the request.
    case timeout(afterSending: Bool)
    case connection(String)
    case unparseable(String)
    case badSignature(String)

    public var description: String {
        switch self {
        case .systemError: "SYSTEMERROR"
        case .frequencyLimited: "FREQUENCY_LIMITED"
        case .httpStatus(let status): "HTTP \(status)"
        case .timeout(let afterSending): afterSending ? "timeout after sending" : "timeout before sending"
        case .connection(let reason): "connection error: \(reason)"
        case .unparseable(let reason): "unparseable response: \(reason)"
        case .badSignature(let reason): "response not believed: \(reason)"
        }
    }
}

/// The typed meaning of an answer to a close (v2 `pay/closeorder`, v3 `…/close`; design.md §3), whichever API gave it.
public enum CloseOutcome: Sendable, Hashable, CustomStringConvertible {
    case closed
    case alreadyClosed
    case notExist
    case paid
    case retryable(RetryReason)
    /// A merchant-wide setup fault (a wrong key, SIGNERROR, REQUIRE_POST_METHOD, XML_FORMAT_ERROR, a
    /// wrong appid or mch_id): every order of the merchant would get it. The reason names the code
    /// or message, and whether it is the signature (`SetupFault`).
    case configurationError(SetupFault)
    /// A fault about this one order's own parameters (PARAM_ERROR, INVALID_REQUEST, LACK_PARAMS,
    /// NOAUTH, any other return_code FAIL such as "普通商户不允许传sub_mch_id"): it must not pause the
    /// merchant's other orders. The reason names the code or message.
    case orderRejected(String)
    /// An err_code we do not know for closeorder (TRADE_STATE_ERROR, USERPAYING, …): query, never assume.
    case unknownCode(String)
    /// A signed answer that would decide the order but is not bound to it (API v3: a 204, or an
    /// error body, which names no order): a query, whose answer echoes the order, decides.
    case unconfirmed(UnconfirmedClose)

    public var description: String {
        switch self {
        case .closed: "closed"
        case .alreadyClosed: "already_closed"
        case .notExist: "not_exist"
        case .paid: "paid"
        case .retryable(let reason): "retry (\(reason))"
        case .configurationError(let reason): "configuration error (\(reason))"
        case .orderRejected(let reason): "order rejected (\(reason))"
        case .unknownCode(let code): "unknown err_code \(code)"
        case .unconfirmed(let claim): "\(claim), to be confirmed by a query"
        }
    }
}

/// What a close answer that names no order says (`CloseOutcome.unconfirmed`). API v3 answers are
/// tied to their request only by signature and timestamp, so a signed one for another order of the
/// same merchant could be replayed within its 300 s; each is therefore only a claim.
///
/// | claim         | v3 answer                        | decided by the query as                               |
/// |---------------|----------------------------------|-------------------------------------------------------|
/// | closed        | 204 No Content                   | CLOSED → `closed`; SUCCESS → `paid`; NOTPAY → close again |
/// | alreadyClosed | ORDER_CLOSED                     | CLOSED → `already_closed`; SUCCESS → `paid`; NOTPAY → close again |
/// | notExist      | ORDER_NOT_EXIST, ORDERNOTEXIST   | not exist → `not_exist`; SUCCESS → `paid`; NOTPAY → close again |
/// | rejected      | INVALID_REQUEST (the catch-all)  | SUCCESS → `paid`; CLOSED → `already_closed`; else the refusal stands |
public enum UnconfirmedClose: Sendable, Hashable, CustomStringConvertible {
    case closed
    case alreadyClosed
    case notExist
    /// The reason names the code and message.
    case rejected(String)

    public var description: String {
        switch self {
        case .closed: "HTTP 204 to the close"
        case .alreadyClosed: "ORDER_CLOSED"
        case .notExist: "ORDER_NOT_EXIST"
        case .rejected(let reason): "WeChat refused this order: \(reason)"
        }
    }
}

/// `trade_state` from `pay/orderquery`, and what the daemon does with each (design.md §3; the
/// decision itself is `CloseDecision`'s).
///
/// | trade_state | WeChat means                                   | the daemon                                   |
/// |-------------|------------------------------------------------|----------------------------------------------|
/// | SUCCESS     | paid                                           | `paid`, transaction_id recorded              |
/// | REFUND      | paid, then (partly) refunded                   | `paid`                                       |
/// | NOTPAY      | not paid, still open                           | close again later (retry)                    |
/// | CLOSED      | closed                                         | `closed` / `already_closed`; after a signed ORDERPAID a contradiction, flagged for a person |
/// | REVOKED     | cancelled (micropay): can no longer be paid    | `closed` / `already_closed`                  |
/// | USERPAYING  | the customer is paying now                     | retry later                                  |
/// | PAYERROR    | the payment failed; the order is still open    | close again later (retry)                    |
/// | ACCEPT      | payment accepted, not yet settled              | retry later; never `closed`                  |
public enum TradeState: String, Sendable, Hashable, CaseIterable {
    case success = "SUCCESS", refund = "REFUND", notPay = "NOTPAY", closed = "CLOSED"
    case revoked = "REVOKED", userPaying = "USERPAYING", payError = "PAYERROR", accept = "ACCEPT"

    /// Whether the customer's money moved: the order must end `paid`, never `closed`.
    public var isPaid: Bool { self == .success || self == .refund }

    /// Whether the order can no longer be paid (CLOSED, REVOKED): it may end `closed`.
    public var isFinallyUnpaid: Bool { self == .closed || self == .revoked }

    /// Whether money may be on its way (USERPAYING, ACCEPT): wait and ask again, never close or fail on it.
    public var isPaymentInProgress: Bool { self == .userPaying || self == .accept }
}

/// The typed meaning of an answer to an order query, whichever API gave it.
public enum QueryOutcome: Sendable, Hashable, CustomStringConvertible {
    case state(TradeState, transactionID: String?)
    case notExist
    case retryable(RetryReason)
    /// A merchant-wide setup fault, as `CloseOutcome.configurationError`.
    case configurationError(SetupFault)
    /// A fault about this order's own parameters, as `CloseOutcome.orderRejected`.
    case orderRejected(String)
    case unknownCode(String)

    public var description: String {
        switch self {
        case .state(let state, let transactionID):
            "trade_state \(state.rawValue)" + (transactionID.map { " transaction_id \($0)" } ?? "")
        case .notExist: "not_exist"
        case .retryable(let reason): "retry (\(reason))"
        case .configurationError(let reason): "configuration error (\(reason))"
        case .orderRejected(let reason): "order rejected (\(reason))"
        case .unknownCode(let code): "unknown err_code \(code)"
        }
    }
}

/// What an answer said, for the audit table and logs. It holds no sign.
///
/// The codes are repeated whether or not the answer was believed (an audit row shows what came
/// back); `verified` says whether they are WeChat's words.
public struct ResponseSummary: Sendable, Hashable {
    public var httpStatus: Int?
    public var returnCode: String?
    public var returnMsg: String?
    public var resultCode: String?
    public var errCode: String?
    public var errCodeDes: String?
    /// True only when the answer's signature was checked and its echoed ids are the request's.
    /// return_code FAIL answers (unsigned by nature), badly signed, unparseable and mismatched
    /// answers, and calls without an answer are false: their codes must never be stored as fact.
    public var verified: Bool

    /// An unverified summary (the codes of an answer nobody checked, or of no answer at all).
    public init(
        httpStatus: Int? = nil, returnCode: String? = nil, returnMsg: String? = nil,
        resultCode: String? = nil, errCode: String? = nil, errCodeDes: String? = nil
    ) {
        self.init(
            httpStatus: httpStatus, returnCode: returnCode, returnMsg: returnMsg, resultCode: resultCode,
            errCode: errCode, errCodeDes: errCodeDes, verified: false)
    }

    /// A summary that says whether it was verified (test doubles stand in for a checked answer).
    public init(
        httpStatus: Int? = nil, returnCode: String? = nil, returnMsg: String? = nil,
        resultCode: String? = nil, errCode: String? = nil, errCodeDes: String? = nil, verified: Bool
    ) {
        self.httpStatus = httpStatus
        self.returnCode = returnCode
        self.returnMsg = returnMsg
        self.resultCode = resultCode
        self.errCode = errCode
        self.errCodeDes = errCodeDes
        self.verified = verified
    }
}
