/// Why a request could not be built or a response could not be believed.
///
/// Messages name the field or rule that failed and never contain the key, the sign or the
/// string-to-sign.
public struct ProtocolError: Error, Sendable, Hashable, CustomStringConvertible {
    enum Kind: Sendable, Hashable {
        case invalidField
        case invalidKey
        case malformedXML
        case hostileXML
        case verification
    }

    let kind: Kind
    /// Human-readable reason, safe to log.
    public let message: String

    public var description: String { message }

    /// The document was rejected because it declares a DOCTYPE or ENTITY (XXE, billion laughs).
    public var isHostileXML: Bool { kind == .hostileXML }
    /// The document is not a well-formed flat `<xml>` object.
    public var isMalformedXML: Bool { kind == .malformedXML || kind == .hostileXML }
    /// The response's signature or echoed ids did not check out.
    public var isVerificationFailure: Bool { kind == .verification }

    static func invalidField(_ message: String) -> Self { .init(kind: .invalidField, message: message) }
    static func invalidKey(_ message: String) -> Self { .init(kind: .invalidKey, message: message) }
    static func malformedXML(_ message: String) -> Self { .init(kind: .malformedXML, message: message) }
    static func hostileXML(_ message: String) -> Self { .init(kind: .hostileXML, message: message) }
    static func verification(_ message: String) -> Self { .init(kind: .verification, message: message) }
}
