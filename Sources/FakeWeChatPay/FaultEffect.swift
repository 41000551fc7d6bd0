/// What a scripted `FakeFault` does, whichever API is asked: whether the order's own rules run
/// (the request is acted on) and what becomes of the answer. v2 (`V2Exchange`) and v3 (`V3Exchange`)
/// each only render the result in their own format; the decision is this one table.
///
/// | fault                 | the order            | the answer                                                      |
/// |-----------------------|----------------------|-----------------------------------------------------------------|
/// | systemError           | untouched            | claims a system error (v2 SYSTEMERROR, v3 500 SYSTEM_ERROR)      |
/// | http500, http503      | untouched            | that HTTP status, unsigned plain text                           |
/// | slowAnswer            | its rules run        | the true answer, held for `FakeWeChatPay.slowAnswerDelay`       |
/// | connectionReset       | untouched            | none: the connection is reset                                   |
/// | malformedBody         | untouched            | 200 with a truncated body                                       |
/// | badResponseSignature  | its rules run        | the true answer, its signature spoiled                          |
/// | staleTimestamp        | its rules run        | v3: correctly signed but dated 10 minutes back; v2: spoiled signature |
/// | unknownSerial         | its rules run        | v3: names a key the merchant does not hold; v2: spoiled signature |
/// | forgedOrderPaid       | untouched            | claims paid, badly signed                                       |
/// | forgedSuccess         | untouched            | claims success (v3 close: 204), badly signed                    |
/// | orderClosed           | untouched            | claims already closed, signed                                   |
/// | orderNotExist         | untouched            | claims no such order, signed                                    |
/// | frequencyLimited      | untouched            | claims the rate limit (v3: 429), signed                         |
/// | paramError            | untouched            | refuses the order's parameters (v2 return_code FAIL, v3 400 PARAM_ERROR) |
enum FaultEffect: Equatable {
    /// How a true answer is spoiled after the order's rules ran.
    enum Spoil: Equatable {
        case late
        case badSignature
        case staleTimestamp
        case unknownSerial
    }

    /// What an answer claims without the order being looked at.
    enum Claim: Equatable {
        case systemError
        case httpError(Int)
        case malformed
        case forgedPaid
        case forgedSuccess
        case orderClosed
        case orderNotExist
        case frequencyLimited
        case paramError
    }

    /// The order's own rules run; the answer is then spoiled as said.
    case acts(Spoil)
    /// The order is untouched; the answer claims what is said.
    case claims(Claim)
    /// The order is untouched; the connection is reset without an answer.
    case resets

    init(_ fault: FakeFault) {
        switch fault {
        case .systemError: self = .claims(.systemError)
        case .http500: self = .claims(.httpError(500))
        case .http503: self = .claims(.httpError(503))
        case .slowAnswer: self = .acts(.late)
        case .connectionReset: self = .resets
        case .malformedBody: self = .claims(.malformed)
        case .badResponseSignature: self = .acts(.badSignature)
        case .staleTimestamp: self = .acts(.staleTimestamp)
        case .unknownSerial: self = .acts(.unknownSerial)
        case .forgedOrderPaid: self = .claims(.forgedPaid)
        case .forgedSuccess: self = .claims(.forgedSuccess)
        case .orderClosed: self = .claims(.orderClosed)
        case .orderNotExist: self = .claims(.orderNotExist)
        case .frequencyLimited: self = .claims(.frequencyLimited)
        case .paramError: self = .claims(.paramError)
        }
    }
}
