import WeChatPayV2

/// A misbehaviour the fake can be told to show, per order or at a rate.
public enum FakeFault: Sendable, Hashable, CaseIterable {
    /// Signed `result_code=FAIL`, `err_code=SYSTEMERROR`.
    case systemError
    case http500
    case http503
    /// Holds the answer for `FakeWeChatPay.slowAnswerDelay`, beyond any sane client timeout.
    /// The close is still carried out, as a real server that answers late would.
    case slowAnswer
    /// Resets the connection (RST) after reading the request, without acting on it.
    case connectionReset
    /// Answers 200 with a truncated, unparseable body.
    case malformedBody
    /// Acts on the request but signs the answer wrongly.
    case badResponseSignature
    /// Claims ORDERPAID with a bad signature, without acting on the request.
    case forgedOrderPaid
    /// Claims SUCCESS with a bad signature, without acting on the request.
    case forgedSuccess
    /// Answers ORDERCLOSED (signed) without looking at the order.
    case orderClosed
    /// Answers ORDERNOTEXIST (signed) without looking at the order.
    case orderNotExist
    /// v3: acts on the request but dates the (correctly signed) answer 10 minutes back. v2 has no
    /// timestamp, so there it signs the answer wrongly, as `badResponseSignature`.
    case staleTimestamp
    /// v3: acts on the request but names a key the merchant does not hold in `Wechatpay-Serial`.
    /// v2 has no serial, so there it signs the answer wrongly, as `badResponseSignature`.
    case unknownSerial
    /// Answers FREQUENCY_LIMITED (signed) without acting on the request, as WeChat does to a
    /// merchant calling too fast (also what `FakeWeChatPay.setRateLimit` answers above its rate).
    case frequencyLimited
    /// Refuses the order's own parameters without acting on it: v2 `return_code=FAIL` with a
    /// return_msg about a parameter (not the signature), v3 a signed 400 PARAM_ERROR. Script it
    /// once per call to refuse an order every time (a bad row).
    case paramError
}

/// A merchant the fake knows, with the key it verifies requests with.
public struct FakeMerchant: Sendable {
    public let mchID: String
    public let key: APIKey
    public let appIDs: Set<String>
    /// Service providers may send `sub_mch_id`; ordinary merchants get return_code FAIL if they do.
    public let isServiceProvider: Bool
    /// A service provider's authorised sub-merchants; empty means any. Others get a signed NOAUTH.
    public let subMerchants: Set<String>

    public init(mchID: String, key: APIKey, appIDs: Set<String>, isServiceProvider: Bool = false, subMerchants: Set<String> = []) {
        self.mchID = mchID
        self.key = key
        self.appIDs = appIDs
        self.isServiceProvider = isServiceProvider
        self.subMerchants = subMerchants
    }
}

/// WeChat's view of an order.
public enum FakeOrderState: String, Sendable, Hashable {
    case notPay = "NOTPAY", paid = "SUCCESS", closed = "CLOSED"
}

/// What the fake does with a close or query of an order it was never told about.
public enum UnknownOrderPolicy: String, Sendable {
    /// Answer ORDERNOTEXIST, as WeChat does for an order it has never seen.
    case notExist
    /// Treat it as an unpaid order created long ago (for running the fake alongside a real app).
    case notPay
}

/// One request the fake received, for assertions. It keeps the request's sign so tests can prove
/// no sign ever reaches a log or the database; never the key.
public struct FakeCall: Sendable, Hashable {
    public let receivedAt: Double
    public let path: String
    public let mchID: String?
    public let outTradeNo: String?
    public let nonce: String?
    public let sign: String?
    /// Whether the request's sign verified with the merchant's key.
    public let signatureValid: Bool
    /// The order's age in seconds at the time of a close, when the fake knew the order.
    public let orderAge: Double?
    /// What the fake did: a code such as `SUCCESS`, `ORDERPAID`, `FAIL`, or a fault's name.
    public let answer: String
    /// Whether the request could have changed the order (the fake acted on it).
    public let acted: Bool
}
