import Crypto

/// The merchant's APIv3 key: 32 characters set on the merchant platform, the AES-256-GCM key that
/// `/v3/certificates` entries (and notifications) are encrypted with.
///
/// It never prints (`<redacted>`), and errors about it never quote it.
public struct APIv3Key: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The key's bytes; `SymmetricKey` is not `Sendable` in swift-crypto 3, so it is made per use.
    let bytes: [UInt8]
    var key: SymmetricKey { SymmetricKey(data: bytes) }

    /// - Throws: when the key is not exactly 32 bytes (a trailing newline is the usual cause).
    public init(_ text: String) throws(V3Error) {
        guard text.utf8.count == 32 else {
            throw V3Error(.invalidKey, "the APIv3 key must be exactly 32 characters (it has \(text.utf8.count))")
        }
        bytes = Array(text.utf8)
    }

    /// Reads a key file's contents, dropping one trailing newline.
    public init(fileContents: String) throws(V3Error) {
        var text = fileContents
        if text.hasSuffix("\r\n") { text.removeLast(2) } else if text.hasSuffix("\n") { text.removeLast() }
        try self.init(text)
    }

    public var description: String { "<redacted>" }
    public var debugDescription: String { "APIv3Key(<redacted>)" }
}

/// AEAD_AES_256_GCM as v3 uses it: a 12-character nonce, associated data, and base64 of the
/// ciphertext followed by its 16-byte tag.
public enum AEADResource {
    public static let algorithm = "AEAD_AES_256_GCM"

    public static func open(ciphertext: String, nonce: String, associatedData: String, key: APIv3Key) throws(V3Error) -> [UInt8] {
        guard let combined = base64Decode(ciphertext), combined.count > 16 else {
            throw V3Error(.certificate, "the encrypted resource's ciphertext is not base64 of at least 17 bytes")
        }
        do {
            let box = try AES.GCM.SealedBox(
                nonce: AES.GCM.Nonce(data: Array(nonce.utf8)),
                ciphertext: combined.dropLast(16), tag: combined.suffix(16))
            return Array(try AES.GCM.open(box, using: key.key, authenticating: Array(associatedData.utf8)))
        } catch {
            throw V3Error(
                .certificate, "the encrypted resource does not decrypt with the APIv3 key (wrong key, nonce or associated data)")
        }
    }

    /// Encrypts `plaintext` (the fake's side); `nonce` is 12 characters chosen by the caller.
    public static func seal(_ plaintext: [UInt8], nonce: String, associatedData: String, key: APIv3Key) throws(V3Error) -> String
    {
        do {
            let box = try AES.GCM.seal(
                plaintext, using: key.key, nonce: AES.GCM.Nonce(data: Array(nonce.utf8)),
                authenticating: Array(associatedData.utf8))
            return base64Encode(Array(box.ciphertext) + Array(box.tag))
        } catch {
            throw V3Error(.certificate, "the resource could not be encrypted (the nonce must be 12 bytes)")
        }
    }
}
