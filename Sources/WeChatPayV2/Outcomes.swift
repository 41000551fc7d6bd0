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

/// The typed meaning of an answer to `pay/closeorder` (design.md §3).
public enum CloseOutcome: Sendable, Hashable, CustomStringConvertible {
    case closed
    case alreadyClosed
    case notExist
    case paid
    case retryable(RetryReason)
    /// return_code FAIL, SIGNERROR, REQUIRE_POST_METHOD, XML_FORMAT_ERROR and kin: a merchant-wide fault.
    case configurationError(String)
    /// A fault about this order's own parameters (PARAM_ERROR, a FAIL other orders do not get).
    case orderRejected(String)
    /// An err_code we do not know for closeorder (TRADE_STATE_ERROR, USERPAYING, …): query, never assume.
    case unknownCode(String)

    /// A stable lower-case label, stored in `close_attempts.outcome` and used in logs and metrics.
    public var label: String {
        switch self {
        case .closed: "closed"
        case .alreadyClosed: "already_closed"
        case .notExist: "not_exist"
        case .paid: "paid"
        case .retryable: "retry"
        case .configurationError: "config_error"
        case .orderRejected: "order_rejected"
        case .unknownCode: "unknown_code"
        }
    }

    public var description: String {
        switch self {
        case .retryable(let reason): "retry (\(reason))"
        case .configurationError(let reason): "configuration error (\(reason))"
        case .orderRejected(let reason): "order rejected (\(reason))"
        case .unknownCode(let code): "unknown err_code \(code)"
        default: label
        }
    }
}

/// `trade_state` from `pay/orderquery`.
public enum TradeState: String, Sendable, Hashable, CaseIterable {
    case success = "SUCCESS", refund = "REFUND", notPay = "NOTPAY", closed = "CLOSED"
    case revoked = "REVOKED", userPaying = "USERPAYING", payError = "PAYERROR", accept = "ACCEPT"

    /// Whether the customer's money moved: the order must end `paid`, never `closed`.
    public var isPaid: Bool { self == .success || self == .refund }
}

/// The typed meaning of an answer to `pay/orderquery`.
public enum QueryOutcome: Sendable, Hashable, CustomStringConvertible {
    case state(TradeState, transactionID: String?)
    case notExist
    case retryable(RetryReason)
    case configurationError(String)
    case orderRejected(String)
    case unknownCode(String)

    public var description: String {
        switch self {
        case .state(let state, let transactionID): "trade_state \(state.rawValue)" + (transactionID.map { " transaction_id \($0)" } ?? "")
        case .notExist: "not_exist"
        case .retryable(let reason): "retry (\(reason))"
        case .configurationError(let reason): "configuration error (\(reason))"
        case .orderRejected(let reason): "order rejected (\(reason))"
        case .unknownCode(let code): "unknown err_code \(code)"
        }
    }
}

/// What an answer said, for the audit table and logs. It holds no sign.
public struct ResponseSummary: Sendable, Hashable {
    public var httpStatus: Int?
    public var returnCode: String?
    public var returnMsg: String?
    public var resultCode: String?
    public var errCode: String?
    public var errCodeDes: String?
    /// Whether the answer's signature was checked and its echoes matched the request. Only a
    /// verified answer's codes are WeChat's words; the others are stored marked as unverified.
    public var verified: Bool = false

    public init(httpStatus: Int? = nil, returnCode: String? = nil, returnMsg: String? = nil,
                resultCode: String? = nil, errCode: String? = nil, errCodeDes: String? = nil, verified: Bool = false) {
        self.verified = verified
        self.httpStatus = httpStatus
        self.returnCode = returnCode
        self.returnMsg = returnMsg
        self.resultCode = resultCode
        self.errCode = errCode
        self.errCodeDes = errCodeDes
    }

    init(httpStatus: Int, fields: [String: String]) {
        self.init(httpStatus: httpStatus, returnCode: fields["return_code"], returnMsg: fields["return_msg"],
                  resultCode: fields["result_code"], errCode: fields["err_code"], errCodeDes: fields["err_code_des"])
    }
}
