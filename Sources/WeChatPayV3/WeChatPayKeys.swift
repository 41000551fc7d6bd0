/// The keys that verify WeChat Pay's answers for one merchant, by the serial `Wechatpay-Serial`
/// names. Both modes of the official SDKs:
///
/// | mode                  | serial                          | key from                                          |
/// |-----------------------|---------------------------------|---------------------------------------------------|
/// | WeChat Pay public key | its id, `PUB_KEY_ID_…`          | the PEM downloaded once from the merchant platform |
/// | platform certificates | each certificate's serial (hex) | `GET /v3/certificates`, decrypted with the APIv3 key |
///
/// During a rotation two certificates are current and either serial is accepted. An expired
/// certificate is dropped when the keys are refreshed, not at verification time, so an answer
/// signed a moment before the switch still verifies.
public struct WeChatPayKeys: Sendable {
    public enum Mode: String, Sendable, Hashable {
        case publicKey = "public key"
        case platformCertificates = "platform certificates"
    }

    public let mode: Mode
    /// Upper-cased serial → key.
    let keys: [String: RSAPublicKey]
    /// For certificates: the earliest expiry among them (unix seconds); nil for a public key.
    public let earliestExpiry: Int64?

    /// The WeChat Pay public key mode: `id` must start with `PUB_KEY_ID_`.
    public init(publicKeyID id: String, key: RSAPublicKey) throws(V3Error) {
        guard id.hasPrefix("PUB_KEY_ID_"), id.utf8.count <= 64 else {
            throw V3Error(.invalidField, "the WeChat Pay public key id \"\(id)\" must start with PUB_KEY_ID_")
        }
        mode = .publicKey
        keys = [id.uppercased(): key]
        earliestExpiry = nil
    }

    /// The platform certificate mode.
    public init(certificates: [PlatformCertificate]) {
        mode = .platformCertificates
        keys = Dictionary(certificates.map { ($0.serialNo.uppercased(), $0.publicKey) }) { first, _ in first }
        earliestExpiry = certificates.map(\.notValidAfter).min()
    }

    /// The key `serial` names, or nil for a serial we do not hold.
    public func key(forSerial serial: String) -> RSAPublicKey? { keys[serial.uppercased()] }

    /// The serials held, sorted (for `check-config` and logs; serials are not secret).
    public var serials: [String] { keys.keys.sorted() }
}
