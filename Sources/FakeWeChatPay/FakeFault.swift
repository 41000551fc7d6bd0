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
