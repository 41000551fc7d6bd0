import Foundation
import SwiftASN1
import X509
import _CryptoExtras

/// A WeChat Pay platform certificate: its serial (what `Wechatpay-Serial` names), validity, and
/// the RSA key that verifies answers signed while it is current.
public struct PlatformCertificate: Sendable {
    /// Upper-case hex without leading zero bytes, as WeChat Pay writes serials.
    public let serialNo: String
    /// Unix seconds.
    public let notValidBefore: Int64
    public let notValidAfter: Int64
    public let publicKey: RSAPublicKey

    /// Reads a PEM certificate whose key is RSA.
    public init(pem: String) throws(V3Error) {
        let certificate: Certificate
        do {
            certificate = try Certificate(pemEncoded: pem)
        } catch {
            throw V3Error(.certificate, "the platform certificate is not a PEM X.509 certificate")
        }
        guard let key = _RSA.Signing.PublicKey(certificate.publicKey) else {
            throw V3Error(.certificate, "the platform certificate's key is not RSA")
        }
        self.serialNo = Self.hex(certificate.serialNumber.bytes)
        self.notValidBefore = Int64(certificate.notValidBefore.timeIntervalSince1970)
        self.notValidAfter = Int64(certificate.notValidAfter.timeIntervalSince1970)
        self.publicKey = RSAPublicKey(key)
    }

    /// Whether the certificate is in force at `nowSeconds`.
    public func isValid(at nowSeconds: Int64) -> Bool { notValidBefore <= nowSeconds && nowSeconds <= notValidAfter }

    static func hex(_ bytes: some Collection<UInt8>) -> String {
        let significant = bytes.drop { $0 == 0 }
        let digits = Array("0123456789ABCDEF".utf8)
        var text: [UInt8] = []
        for byte in significant {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return text.isEmpty ? "0" : String(decoding: text, as: UTF8.self)
    }

    /// A self-signed certificate for `key` (the fake's own platform certificate, and tests').
    public static func selfSigned(
        key: MerchantPrivateKey, serial: [UInt8], commonName: String,
        notValidBefore: Int64, notValidAfter: Int64
    ) throws -> String {
        let name = try DistinguishedName { CommonName(commonName) }
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(bytes: serial),
            publicKey: Certificate.PublicKey(key.key.publicKey),
            notValidBefore: Date(timeIntervalSince1970: TimeInterval(notValidBefore)),
            notValidAfter: Date(timeIntervalSince1970: TimeInterval(notValidAfter)),
            issuer: name, subject: name, signatureAlgorithm: .sha256WithRSAEncryption,
            extensions: Certificate.Extensions {}, issuerPrivateKey: Certificate.PrivateKey(key.key))
        return try certificate.serializeAsPEM().pemString
    }
}
