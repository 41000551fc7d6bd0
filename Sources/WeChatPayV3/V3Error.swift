/// Why a v3 request could not be built or an answer could not be believed.
///
/// Messages name the field or rule that failed. They never hold the private key, the APIv3 key,
/// a signature or a signing message: they are safe to log and to store in `last_error`.
public struct V3Error: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// A request field breaks a v3 rule (out_trade_no, mchid).
        case invalidField
        /// A key or certificate could not be read, or is not fit for use.
        case invalidKey
        /// An answer's signature headers are missing or its signature does not verify.
        case verification
        /// An answer's `Wechatpay-Timestamp` is more than five minutes from now (a replay).
        case staleTimestamp
        /// An answer's `Wechatpay-Serial` names a key we do not hold.
        case unknownSerial
        /// A `/v3/certificates` entry could not be decrypted or parsed.
        case certificate
        /// An answer's body is not the JSON its status promises.
        case malformedAnswer
    }

    public let kind: Kind
    /// Human-readable reason, safe to log.
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}
