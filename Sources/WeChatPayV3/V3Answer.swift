/// An HTTP answer from the v3 API, as the gateway received it.
public struct V3Answer: Sendable, Hashable {
    public let status: Int
    /// `Wechatpay-Timestamp`, `Wechatpay-Nonce`, `Wechatpay-Signature`, `Wechatpay-Serial`.
    public let timestamp: String?
    public let nonce: String?
    public let signature: String?
    public let serial: String?
    public let body: [UInt8]

    public static let timestampHeader = "Wechatpay-Timestamp"
    public static let nonceHeader = "Wechatpay-Nonce"
    public static let signatureHeader = "Wechatpay-Signature"
    public static let serialHeader = "Wechatpay-Serial"

    public init(status: Int, timestamp: String?, nonce: String?, signature: String?, serial: String?, body: [UInt8]) {
        self.status = status
        self.timestamp = timestamp
        self.nonce = nonce
        self.signature = signature
        self.serial = serial
        self.body = body
    }

    /// Reads the four headers with `header` (a case-insensitive lookup the caller provides).
    public init(status: Int, body: [UInt8], header: (String) -> String?) {
        self.init(
            status: status, timestamp: header(Self.timestampHeader), nonce: header(Self.nonceHeader),
            signature: header(Self.signatureHeader), serial: header(Self.serialHeader), body: body)
    }
}

/// Decides whether an answer is WeChat Pay's: every check, in order, and what failing it says.
///
/// | check                                                       | fails with        |
/// |-------------------------------------------------------------|-------------------|
/// | all four `Wechatpay-*` headers present and non-empty         | `verification`    |
/// | timestamp is 1–18 decimal digits                             | `verification`    |
/// | timestamp is unix seconds within ±300 s of now               | `staleTimestamp`  |
/// | the serial names a key we hold                              | `unknownSerial`   |
/// | RSA-SHA256 (PKCS#1 v1.5) over `TIMESTAMP\nNONCE\nBODY\n`     | `verification`    |
///
/// `now` is an input: the core has no clock. The serial check comes before the signature so
/// that a rotation (a new certificate not yet fetched) is told apart from a forgery.
public enum AnswerVerifier {
    /// The replay window, as the official SDKs use it.
    public static let maximumSkewSeconds: Int64 = 300

    public static func verify(_ answer: V3Answer, keys: WeChatPayKeys, nowSeconds: Int64) throws(V3Error) {
        guard let timestamp = answer.timestamp, !timestamp.isEmpty, let nonce = answer.nonce, !nonce.isEmpty,
            let signature = answer.signature, !signature.isEmpty, let serial = answer.serial, !serial.isEmpty
        else {
            throw V3Error(
                .verification,
                "the answer (HTTP \(answer.status)) lacks a Wechatpay-Timestamp, -Nonce, -Signature or -Serial header")
        }
        guard let seconds = unixSeconds(timestamp) else {
            throw V3Error(.verification, "the answer's Wechatpay-Timestamp \"\(timestamp.prefix(20))\" is not unix seconds")
        }
        // Checked: neither the header nor the clock may trap the daemon (issue 21: Int64.min did).
        let (skew, overflow) = seconds.subtractingReportingOverflow(nowSeconds)
        guard !overflow, skew.magnitude <= maximumSkewSeconds.magnitude else {
            throw V3Error(
                .staleTimestamp,
                "the answer's Wechatpay-Timestamp is \(overflow ? "far" : "\(skew) s") from now (more than \(maximumSkewSeconds) s: a replay or a wrong clock)"
            )
        }
        guard let key = keys.key(forSerial: serial) else {
            throw V3Error(
                .unknownSerial,
                "the answer is signed by serial \(serial.prefix(64)), which is not among the \(keys.mode.rawValue) held (\(keys.serials.joined(separator: ", ")))"
            )
        }
        guard key.isValidSignature(signature, for: SigningMessage.answer(timestamp: timestamp, nonce: nonce, body: answer.body))
        else {
            throw V3Error(.verification, "the answer's Wechatpay-Signature does not verify with \(serial.prefix(64))")
        }
    }

    /// Unix seconds as WeChat Pay writes them: 1–18 ASCII digits (no sign, space or other
    /// numerals), so the value always fits an `Int64`.
    static func unixSeconds(_ text: String) -> Int64? {
        let digits = text.utf8
        guard (1...18).contains(digits.count), digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
            return nil
        }
        return digits.reduce(0) { $0 * 10 + Int64($1 - UInt8(ascii: "0")) }
    }
}
