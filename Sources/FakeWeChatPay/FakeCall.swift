import WeChatPayV2

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
