import Foundation

/// The answer to `GET /v3/certificates`: each entry's certificate encrypted with the APIv3 key.
///
/// ```json
/// {"data":[{"serial_no":"…","effective_time":"…","expire_time":"…",
///           "encrypt_certificate":{"algorithm":"AEAD_AES_256_GCM","nonce":"…","associated_data":"certificate","ciphertext":"…"}}]}
/// ```
///
/// An entry is kept only if it decrypts, parses, and its certificate's serial is the entry's
/// `serial_no`; one bad entry fails the whole list (it was verified as WeChat Pay's answer, so a
/// bad entry means a wrong APIv3 key, which every entry would show).
public enum CertificateList {
    public static let path = "/v3/certificates"

    struct Body: Codable {
        struct Entry: Codable {
            var serial_no: String
            var effective_time: String?
            var expire_time: String?
            var encrypt_certificate: Encrypted
        }
        struct Encrypted: Codable {
            var algorithm: String
            var nonce: String
            var associated_data: String?
            var ciphertext: String
        }
        var data: [Entry]
    }

    public static func decode(_ body: [UInt8], key: APIv3Key) throws(V3Error) -> [PlatformCertificate] {
        let decoded: Body
        do {
            decoded = try JSONDecoder().decode(Body.self, from: Data(body))
        } catch {
            throw V3Error(.malformedAnswer, "the /v3/certificates answer is not the expected JSON")
        }
        var certificates: [PlatformCertificate] = []
        for entry in decoded.data {
            let encrypted = entry.encrypt_certificate
            guard encrypted.algorithm == AEADResource.algorithm else {
                throw V3Error(
                    .certificate, "certificate \(entry.serial_no) uses \(encrypted.algorithm), not \(AEADResource.algorithm)")
            }
            let pem = try AEADResource.open(
                ciphertext: encrypted.ciphertext, nonce: encrypted.nonce,
                associatedData: encrypted.associated_data ?? "", key: key)
            let certificate = try PlatformCertificate(pem: String(decoding: pem, as: UTF8.self))
            guard certificate.serialNo.caseInsensitiveCompare(entry.serial_no) == .orderedSame else {
                throw V3Error(
                    .certificate, "the entry says serial \(entry.serial_no) but its certificate's is \(certificate.serialNo)")
            }
            certificates.append(certificate)
        }
        return certificates
    }

    /// Builds an answer body (the fake's side): `certificates` are (serial, PEM) pairs, each
    /// sealed with a caller-chosen 12-character nonce.
    public static func encode(
        _ certificates: [(serialNo: String, pem: String, effective: String, expire: String, nonce: String)],
        key: APIv3Key
    ) throws(V3Error) -> [UInt8] {
        var entries: [Body.Entry] = []
        for certificate in certificates {
            let ciphertext = try AEADResource.seal(
                Array(certificate.pem.utf8), nonce: certificate.nonce,
                associatedData: "certificate", key: key)
            entries.append(
                Body.Entry(
                    serial_no: certificate.serialNo, effective_time: certificate.effective,
                    expire_time: certificate.expire,
                    encrypt_certificate: Body.Encrypted(
                        algorithm: AEADResource.algorithm, nonce: certificate.nonce,
                        associated_data: "certificate", ciphertext: ciphertext)))
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding plain strings cannot fail.
        return Array(try! encoder.encode(Body(data: entries)))
    }
}
