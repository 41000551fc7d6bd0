import Foundation
import _CryptoExtras

/// The merchant's API private key (`apiclient_key.pem`), which signs every v3 request.
///
/// It never prints: `description` and `debugDescription` give `<redacted>`, so a key that slips
/// into a log line or an error leaks nothing. Errors about it never quote the PEM.
public struct MerchantPrivateKey: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    let key: _RSA.Signing.PrivateKey

    /// Reads a PEM private key (PKCS#8 `BEGIN PRIVATE KEY`, as the merchant platform issues it, or
    /// PKCS#1 `BEGIN RSA PRIVATE KEY`) of at least 2048 bits.
    public init(pem: String) throws(V3Error) {
        do {
            key = try _RSA.Signing.PrivateKey(pemRepresentation: pem)
        } catch {
            throw V3Error(.invalidKey, "the merchant private key is not an RSA private key of at least 2048 bits in PEM")
        }
    }

    init(_ key: _RSA.Signing.PrivateKey) {
        self.key = key
    }

    /// A fresh 2048-bit key, for tests, the demo and the fake (randomness lives here, outside the signing path).
    public static func generate() -> MerchantPrivateKey {
        // Generating a 2048-bit key cannot fail short of a broken crypto backend.
        MerchantPrivateKey(try! _RSA.Signing.PrivateKey(keySize: .bits2048))
    }

    /// The matching public key: what the merchant platform (or the fake) verifies requests with.
    public var publicKey: RSAPublicKey { RSAPublicKey(key.publicKey) }

    /// The key in PKCS#8 PEM, for writing a test or demo key file. Never log it.
    public var pkcs8PEM: String { key.pkcs8PEMRepresentation }

    /// RSA PKCS#1 v1.5 over SHA-256 of `message`, base64-encoded.
    public func sign(_ message: [UInt8]) throws(V3Error) -> String {
        do {
            return try key.signature(for: message, padding: .insecurePKCS1v1_5).rawRepresentation.base64EncodedString()
        } catch {
            throw V3Error(.invalidKey, "the merchant private key could not sign")
        }
    }

    public var description: String { "<redacted>" }
    public var debugDescription: String { "MerchantPrivateKey(<redacted>)" }
}

/// An RSA public key that checks PKCS#1 v1.5 SHA-256 signatures: WeChat Pay's (its public key or a
/// platform certificate's), or, in the fake, the merchant's.
public struct RSAPublicKey: Sendable {
    let key: _RSA.Signing.PublicKey

    init(_ key: _RSA.Signing.PublicKey) {
        self.key = key
    }

    /// Reads a PEM public key (`BEGIN PUBLIC KEY`, as the merchant platform gives WeChat Pay's).
    public init(pem: String) throws(V3Error) {
        do {
            key = try _RSA.Signing.PublicKey(pemRepresentation: pem)
        } catch {
            throw V3Error(.invalidKey, "the public key is not an RSA public key of at least 2048 bits in PEM")
        }
    }

    public var pem: String { key.pemRepresentation }

    /// Whether `signature` (base64) is this key's signature of `message`.
    public func isValidSignature(_ signature: String, for message: [UInt8]) -> Bool {
        guard let raw = Data(base64Encoded: signature), raw.count == key.keySizeInBits / 8 else { return false }
        return key.isValidSignature(_RSA.Signing.RSASignature(rawRepresentation: raw), for: message, padding: .insecurePKCS1v1_5)
    }

    /// Whether two keys are the same key (their DER encodings are equal).
    public func matches(_ other: RSAPublicKey) -> Bool { key.derRepresentation == other.key.derRepresentation }
}
