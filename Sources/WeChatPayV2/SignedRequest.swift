/// The two v2 calls closeorderd makes.
public enum Operation: String, Sendable, Hashable, CaseIterable {
    case closeOrder = "/pay/closeorder"
    case orderQuery = "/pay/orderquery"

    /// The URL path of the call.
    public var path: String { rawValue }
}

/// A signed request body, ready to POST. Build one per attempt: each gets a fresh nonce and sign.
public struct SignedRequest: Sendable {
    public let operation: Operation
    public let order: OrderReference
    public let signType: SignType
    /// The XML body. It contains the sign, so it is never logged.
    public let body: [UInt8]

    /// Signs `order` for `operation` with `credentials` and `nonce`
    /// (from `Nonce.make()`; passed in so the core stays free of randomness).
    public init(_ operation: Operation, order: OrderReference, credentials: MerchantCredentials, nonce: String)
        throws(ProtocolError)
    {
        guard order.mchID == credentials.mchID else {
            throw .invalidField("the order's mch_id \(order.mchID) is not the credentials' \(credentials.mchID)")
        }
        var fields = order.baseFields
        fields["nonce_str"] = nonce
        fields["sign_type"] = credentials.signType.rawValue
        fields["sign"] = Signer.sign(fields, type: credentials.signType, key: credentials.key)
        self.operation = operation
        self.order = order
        self.signType = credentials.signType
        self.body = try XMLBodyEncoder.encode(fields)
    }
}
