import Crypto

/// A merchant's v2 API key (32 characters from the merchant platform).
///
/// It never prints: `description`, `debugDescription` and string interpolation all give
/// `<redacted>`, so a key that slips into a log line or an error leaks nothing.
public struct APIKey: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The key's UTF-8 bytes. Only the signer reads them.
    let bytes: [UInt8]
    /// HMAC-SHA256 already keyed with `bytes`, so padding the key and hashing both pads happens
    /// once per key rather than once per signature. Equality and hashing use `bytes` alone.
    let hmacSHA256: KeyedHMAC

    /// - Throws: `ProtocolError` when the key is empty or has surrounding whitespace
    ///   (a trailing newline from `echo key > file` is the usual cause of SIGNERROR).
    public init(_ text: String) throws(ProtocolError) {
        guard !text.isEmpty else { throw .invalidKey("the API key is empty") }
        guard text.trimmingWhitespace() == text else {
            throw .invalidKey("the API key has leading or trailing whitespace")
        }
        self.bytes = Array(text.utf8)
        self.hmacSHA256 = KeyedHMAC(HMAC<SHA256>(key: SymmetricKey(data: bytes)))
    }

    /// Reads a key file's contents, dropping one trailing newline (files written by editors end in one).
    public init(fileContents: String) throws(ProtocolError) {
        var text = fileContents
        if text.hasSuffix("\r\n") { text.removeLast(2) } else if text.hasSuffix("\n") { text.removeLast() }
        try self.init(text)
    }

    public var description: String { "<redacted>" }
    public var debugDescription: String { "APIKey(<redacted>)" }

    public static func == (lhs: APIKey, rhs: APIKey) -> Bool { lhs.bytes == rhs.bytes }
    public func hash(into hasher: inout Hasher) { hasher.combine(bytes) }
}

/// A keyed `HMAC<SHA256>` that signers copy and never change. swift-crypto does not mark `HMAC`
/// `Sendable`, but it is a value type: a copy's first update copies the shared hash state
/// (copy-on-write) and `finalize()` works on copies, so the shared original is only ever read.
struct KeyedHMAC: @unchecked Sendable {
    let hmac: HMAC<SHA256>

    init(_ hmac: HMAC<SHA256>) {
        self.hmac = hmac
    }
}

extension String {
    func trimmingWhitespace() -> String {
        var slice = Substring(self)
        while let first = slice.first, first.isWhitespace { slice.removeFirst() }
        while let last = slice.last, last.isWhitespace { slice.removeLast() }
        return String(slice)
    }
}
