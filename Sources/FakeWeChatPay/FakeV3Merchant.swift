import WeChatPayV3

/// A merchant on API v3 as the fake knows it: the public key of its API certificate (to verify
/// its requests), that certificate's serial, and how it verifies the fake's answers.
public struct FakeV3Merchant: Sendable {
    /// Which key the fake names in `Wechatpay-Serial` for this merchant's answers.
    public enum Verification: Sendable, Hashable {
        /// The WeChat Pay public key (`PUB_KEY_ID_…`).
        case publicKey
        /// The platform certificate, fetched from `/v3/certificates`.
        case platformCertificate
    }

    public let mchID: String
    public let serialNo: String
    public let publicKey: RSAPublicKey
    public let verification: Verification
    /// Encrypts `/v3/certificates` for this merchant; nil answers that call with PARAM_ERROR.
    public let apiV3Key: APIv3Key?
    /// Service providers may use the partner API; ordinary merchants get NO_AUTH there.
    public let isServiceProvider: Bool
    /// A service provider's authorised sub-merchants; empty means any. Others get a signed NO_AUTH.
    public let subMerchants: Set<String>

    public init(
        mchID: String, serialNo: String, publicKey: RSAPublicKey, verification: Verification = .publicKey,
        apiV3Key: APIv3Key? = nil, isServiceProvider: Bool = false, subMerchants: Set<String> = []
    ) {
        self.mchID = mchID
        self.serialNo = serialNo
        self.publicKey = publicKey
        self.verification = verification
        self.apiV3Key = apiV3Key
        self.isServiceProvider = isServiceProvider
        self.subMerchants = subMerchants
    }
}

/// The fake's own WeChat Pay identity for v3: one RSA key pair, published both as a WeChat Pay
/// public key (with its id) and inside a self-signed platform certificate.
///
/// Tests use the fixed `FakeV3Keys.weChatPay` (a test run starts many fakes, and generating a key
/// per fake starved other tests of CPU); the demo and `fake-wechatpay` generate a key at start
/// (`FakeWeChatPay.setV3Identity`).
public struct FakeV3Identity: Sendable {
    public let key: MerchantPrivateKey
    public let publicKeyID: String
    public let certificateSerial: String
    public let certificatePEM: String
    public let certificateNotValidAfter: Int64

    /// - Parameters:
    ///   - nowSeconds: the certificate is valid from a day before to a year after.
    ///   - key: the fake's WeChat Pay key; `MerchantPrivateKey.generate()` for a key of its own.
    public static func make(nowSeconds: Int64, key: MerchantPrivateKey = FakeV3Keys.weChatPay) -> FakeV3Identity {
        let serial: [UInt8] = [0x4F, 0xAC, 0xE0, 0x01, 0x20, 0x26, 0x11, 0x30]
        let notValidAfter = nowSeconds + 365 * 86_400
        // A self-signed certificate over a fresh key cannot fail to build.
        let pem = try! PlatformCertificate.selfSigned(
            key: key, serial: serial, commonName: "Fake Tenpay.com Root CA",
            notValidBefore: nowSeconds - 86_400, notValidAfter: notValidAfter)
        return FakeV3Identity(
            key: key, publicKeyID: "PUB_KEY_ID_0119000001092026113000000000",
            certificateSerial: "4FACE00120261130", certificatePEM: pem, certificateNotValidAfter: notValidAfter)
    }

    /// The WeChat Pay public key in PEM, as the merchant platform offers it for download.
    public var publicKeyPEM: String { key.publicKey.pem }
}
