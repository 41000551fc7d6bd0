/// Why an answer says the merchant's setup is wrong (`CloseOutcome.configurationError`), and
/// whether it is WeChat refusing the request's signature: then the key (or v2 sign type, or v3
/// certificate serial) is wrong, which `check-config --online` names as such. The classifier that
/// read the answer decides the kind; nobody after it reads the text to find out.
///
/// | kind      | v2                                             | v3                        |
/// |-----------|------------------------------------------------|---------------------------|
/// | signature | SIGNERROR; return_code FAIL about the signature (签名…) | SIGN_ERROR; any HTTP 401 |
/// | other     | REQUIRE_POST_METHOD, XML_FORMAT_ERROR, APPID_NOT_EXIST, MCHID_NOT_EXIST, APPID_MCHID_NOT_MATCH | NO_AUTH, MCH_NOT_EXISTS, APPID_MCHID_NOT_MATCH; a wrong APIv3 key or certificate list |
public struct SetupFault: Sendable, Hashable, CustomStringConvertible, ExpressibleByStringLiteral {
    public enum Kind: Sendable, Hashable {
        case signature, other
    }

    public let kind: Kind
    /// The code and message, or what was found wrong.
    public let reason: String

    public init(_ kind: Kind, _ reason: String) {
        self.kind = kind
        self.reason = reason
    }

    /// An `other` fault (test doubles and fixed texts).
    public init(stringLiteral reason: String) {
        self.init(.other, reason)
    }

    public static func signature(_ reason: String) -> SetupFault { SetupFault(.signature, reason) }
    public static func other(_ reason: String) -> SetupFault { SetupFault(.other, reason) }

    public var description: String { reason }
}
