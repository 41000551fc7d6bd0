/// The keys that verify WeChat Pay's answers for one merchant, by the serial `Wechatpay-Serial`
/// names. The modes of the official SDKs:
///
/// | mode                  | serial                          | key from                                          |
/// |-----------------------|---------------------------------|---------------------------------------------------|
/// | WeChat Pay public key | its id, `PUB_KEY_ID_…`          | the PEM downloaded once from the merchant platform |
/// | platform certificates | each certificate's serial (hex) | `GET /v3/certificates`, decrypted with the APIv3 key |
/// | both (`adding`)       | either                          | both: WeChat's staged switch from certificates to the public key signs with either (the Java SDK's `RSACombinedConfig`) |
///
/// During a rotation two certificates are current and either serial is accepted. An expired
/// certificate is dropped when the keys are refreshed (`withoutExpired(at:)`), not at
/// verification time, so an answer signed a moment before the switch still verifies.
public struct WeChatPayKeys: Sendable {
    public enum Mode: String, Sendable, Hashable {
        case publicKey = "public key"
        case platformCertificates = "platform certificates"
        case both = "public key and platform certificates"
    }

    public let mode: Mode
    /// Upper-cased serial → key.
    let keys: [String: RSAPublicKey]
    /// Upper-cased certificate serial → its expiry (unix seconds); a public key has none.
    let expiries: [String: Int64]

    /// The WeChat Pay public key mode: `id` must start with `PUB_KEY_ID_`.
    public init(publicKeyID id: String, key: RSAPublicKey) throws(V3Error) {
        guard id.hasPrefix("PUB_KEY_ID_"), id.utf8.count <= 64 else {
            throw V3Error(.invalidField, "the WeChat Pay public key id \"\(id)\" must start with PUB_KEY_ID_")
        }
        self.init(mode: .publicKey, keys: [id.uppercased(): key], expiries: [:])
    }

    /// The platform certificate mode.
    public init(certificates: [PlatformCertificate]) {
        self.init(
            mode: .platformCertificates,
            keys: Dictionary(certificates.map { ($0.serialNo.uppercased(), $0.publicKey) }) { first, _ in first },
            expiries: Dictionary(certificates.map { ($0.serialNo.uppercased(), $0.notValidAfter) }) { first, _ in first })
    }

    private init(mode: Mode, keys: [String: RSAPublicKey], expiries: [String: Int64]) {
        self.mode = mode
        self.keys = keys
        self.expiries = expiries
    }

    /// The key `serial` names, or nil for a serial we do not hold.
    public func key(forSerial serial: String) -> RSAPublicKey? { keys[serial.uppercased()] }

    /// The serials held, sorted (for `check-config` and logs; serials are not secret).
    public var serials: [String] { keys.keys.sorted() }

    /// For certificates: the earliest expiry among them (unix seconds); nil for a public key alone.
    public var earliestExpiry: Int64? { expiries.values.min() }

    /// For certificates: the latest expiry among them; a later one than `earliestExpiry` is a successor.
    public var latestExpiry: Int64? { expiries.values.max() }

    /// These keys without the certificates expired at `nowSeconds` (a public key does not expire).
    public func withoutExpired(at nowSeconds: Int64) -> WeChatPayKeys {
        let expired = Set(expiries.filter { $0.value < nowSeconds }.keys)
        guard !expired.isEmpty else { return self }
        return WeChatPayKeys(
            mode: mode, keys: keys.filter { !expired.contains($0.key) },
            expiries: expiries.filter { !expired.contains($0.key) })
    }

    /// The keys of both: a merchant that configures the public key and platform certificates
    /// accepts answers signed by either. A serial held by both keeps `self`'s key.
    public func adding(_ other: WeChatPayKeys) -> WeChatPayKeys {
        WeChatPayKeys(
            mode: mode == other.mode ? mode : .both, keys: keys.merging(other.keys) { mine, _ in mine },
            expiries: expiries.merging(other.expiries) { mine, _ in mine })
    }
}
