import Foundation
import Testing
import WeChatPayV2

@testable import WeChatPayV3

@Suite struct AnswerVerificationTests {
    typealias K = V3TestKeys

    static func certificate(
        serial: [UInt8], key: MerchantPrivateKey = K.weChatPay, from: Int64 = K.now - 86_400,
        to: Int64 = K.now + 86_400 * 365
    ) throws -> PlatformCertificate {
        try PlatformCertificate(
            pem: PlatformCertificate.selfSigned(
                key: key, serial: serial, commonName: "Tenpay.com Root CA",
                notValidBefore: from, notValidAfter: to))
    }

    @Test func thePublicKeyModeVerifiesAnAnswerSignedByItsID() throws {
        try AnswerVerifier.verify(K.signed(status: 204, body: ""), keys: K.keys, nowSeconds: K.now)
        #expect(K.keys.mode == .publicKey && K.keys.serials == [K.publicKeyID])
    }

    @Test func theCertificateModeVerifiesByTheCertificatesSerial() throws {
        let certificate = try Self.certificate(serial: [0x51, 0x57, 0xF0, 0x9E, 0xFD])
        #expect(certificate.serialNo == "5157F09EFD")
        let keys = WeChatPayKeys(certificates: [certificate])
        try AnswerVerifier.verify(K.signed(status: 200, body: "{}", serial: "5157F09EFD"), keys: keys, nowSeconds: K.now)
        // Serials compare without regard to case.
        try AnswerVerifier.verify(K.signed(status: 200, body: "{}", serial: "5157f09efd"), keys: keys, nowSeconds: K.now)
        #expect(keys.mode == .platformCertificates && keys.earliestExpiry == K.now + 86_400 * 365)
    }

    @Test func duringARotationEitherCertificateVerifies() throws {
        let old = try Self.certificate(serial: [0x01, 0xAA], key: K.stranger)
        let new = try Self.certificate(serial: [0x02, 0xBB])
        let keys = WeChatPayKeys(certificates: [old, new])
        try AnswerVerifier.verify(
            K.signed(status: 200, body: "{}", serial: "01AA", key: K.stranger), keys: keys, nowSeconds: K.now)
        try AnswerVerifier.verify(K.signed(status: 200, body: "{}", serial: "02BB"), keys: keys, nowSeconds: K.now)
        // The old serial with the new key's signature is a forgery.
        let error = #expect(throws: V3Error.self) {
            try AnswerVerifier.verify(K.signed(status: 200, body: "{}", serial: "01AA"), keys: keys, nowSeconds: K.now)
        }
        #expect(error?.kind == .verification)
    }

    @Test(arguments: [Int64(-301), 301, -86_400, 86_400])
    func aTimestampMoreThanFiveMinutesOffIsRefused(_ skew: Int64) {
        let error = #expect(throws: V3Error.self) {
            try AnswerVerifier.verify(K.signed(status: 204, body: "", timestamp: K.now + skew), keys: K.keys, nowSeconds: K.now)
        }
        #expect(error?.kind == .staleTimestamp)
    }

    @Test(arguments: [Int64(-300), 0, 300])
    func aTimestampWithinFiveMinutesIsAccepted(_ skew: Int64) throws {
        try AnswerVerifier.verify(K.signed(status: 204, body: "", timestamp: K.now + skew), keys: K.keys, nowSeconds: K.now)
    }

    /// Issue 21: `Wechatpay-Timestamp: -9223372036854775808` overflowed the skew subtraction and
    /// killed the daemon (SIGILL) before the signature was looked at. A timestamp is unix seconds
    /// in decimal digits; anything else is refused as not WeChat Pay's, and no value traps.
    @Test(arguments: [
        "-9223372036854775808", "9223372036854775807", "-1", "+\(K.now)", " \(K.now)", "\(K.now) ",
        "\(K.now).0", "0x6925f1a0", "1e9", "99999999999999999999999", "\u{0661}\u{0667}\u{0666}\u{0664}",
    ])
    func aTimestampThatIsNotUnixSecondsIsRefusedWithoutATrap(_ timestamp: String) {
        let signed = K.signed(status: 204, body: "")
        let answer = V3Answer(
            status: 204, timestamp: timestamp, nonce: signed.nonce, signature: signed.signature,
            serial: signed.serial, body: [])
        let error = #expect(throws: V3Error.self) { try AnswerVerifier.verify(answer, keys: K.keys, nowSeconds: K.now) }
        #expect(error?.kind == .verification || error?.kind == .staleTimestamp, "\(String(describing: error))")
        // The same for any clock: the skew is computed with checked arithmetic.
        for now in [Int64.min, -1, 0, Int64.max] {
            #expect(throws: V3Error.self) { try AnswerVerifier.verify(answer, keys: K.keys, nowSeconds: now) }
        }
        #expect(throws: V3Error.self) {
            try AnswerVerifier.verify(K.signed(status: 204, body: ""), keys: K.keys, nowSeconds: .min)
        }
    }

    @Test func anUnknownSerialIsNamed() {
        let error = #expect(throws: V3Error.self) {
            try AnswerVerifier.verify(K.signed(status: 204, body: "", serial: "PUB_KEY_ID_9999"), keys: K.keys, nowSeconds: K.now)
        }
        #expect(error?.kind == .unknownSerial)
        #expect(error?.message.contains("PUB_KEY_ID_9999") == true)
    }

    @Test func missingHeadersAndForeignSignaturesAreRefused() {
        let unsigned = #expect(throws: V3Error.self) {
            try AnswerVerifier.verify(K.unsigned(status: 204, body: ""), keys: K.keys, nowSeconds: K.now)
        }
        #expect(unsigned?.kind == .verification)
        let foreign = #expect(throws: V3Error.self) {
            try AnswerVerifier.verify(K.signed(status: 204, body: "", key: K.stranger), keys: K.keys, nowSeconds: K.now)
        }
        #expect(foreign?.kind == .verification)
        var notBase64 = K.signed(status: 204, body: "")
        notBase64 = V3Answer(
            status: 204, timestamp: notBase64.timestamp, nonce: notBase64.nonce, signature: "!!", serial: notBase64.serial,
            body: [])
        #expect(throws: V3Error.self) { try AnswerVerifier.verify(notBase64, keys: K.keys, nowSeconds: K.now) }
    }

    @Test func aPublicKeyIDMustLookLikeOne() {
        #expect(throws: V3Error.self) { try WeChatPayKeys(publicKeyID: "5157F09EFD", key: K.weChatPay.publicKey) }
    }

    // MARK: /v3/certificates

    static let apiV3Key = try! APIv3Key("0123456789abcdef0123456789abcdef")

    static func certificateList(
        serial: String = "5157F09EFD", serialBytes: [UInt8] = [0x51, 0x57, 0xF0, 0x9E, 0xFD],
        key: APIv3Key = apiV3Key
    ) throws -> [UInt8] {
        let pem = try PlatformCertificate.selfSigned(
            key: K.weChatPay, serial: serialBytes, commonName: "Tenpay.com Root CA",
            notValidBefore: K.now - 10, notValidAfter: K.now + 1000)
        return try CertificateList.encode(
            [
                (
                    serialNo: serial, pem: pem, effective: "2026-01-01T00:00:00+08:00",
                    expire: "2031-01-01T00:00:00+08:00", nonce: "4de73afd28b6"
                )
            ], key: key)
    }

    @Test func certificatesDecryptWithTheAPIv3Key() throws {
        let certificates = try CertificateList.decode(Self.certificateList(), key: Self.apiV3Key)
        #expect(certificates.map(\.serialNo) == ["5157F09EFD"])
        #expect(certificates[0].notValidAfter == K.now + 1000)
        #expect(certificates[0].publicKey.matches(K.weChatPay.publicKey))
    }

    @Test func aWrongAPIv3KeyOrTamperedCiphertextIsACertificateError() throws {
        let body = try Self.certificateList()
        let wrong = #expect(throws: V3Error.self) {
            try CertificateList.decode(body, key: APIv3Key("ffffffffffffffffffffffffffffffff"))
        }
        #expect(wrong?.kind == .certificate)
        // Flip one character inside the base64 ciphertext.
        var text = String(decoding: body, as: UTF8.self)
        let range = try #require(text.range(of: "\"ciphertext\":\""))
        let at = text.index(range.upperBound, offsetBy: 10)
        text.replaceSubrange(at...at, with: text[at] == "A" ? "B" : "A")
        let tampered = #expect(throws: V3Error.self) { try CertificateList.decode(Array(text.utf8), key: Self.apiV3Key) }
        #expect(tampered?.kind == .certificate)
        let associated = String(decoding: body, as: UTF8.self).replacingOccurrences(
            of: "\"associated_data\":\"certificate\"", with: "\"associated_data\":\"other\"")
        #expect(throws: V3Error.self) { try CertificateList.decode(Array(associated.utf8), key: Self.apiV3Key) }
    }

    @Test func anEntryWhoseSerialIsNotItsCertificatesIsRefused() throws {
        let error = #expect(throws: V3Error.self) {
            try CertificateList.decode(Self.certificateList(serial: "AAAA"), key: Self.apiV3Key)
        }
        #expect(error?.kind == .certificate)
    }

    @Test func aCertificateListThatIsNotJSONIsMalformed() {
        let error = #expect(throws: V3Error.self) { try CertificateList.decode(Array("<xml/>".utf8), key: Self.apiV3Key) }
        #expect(error?.kind == .malformedAnswer)
    }
}
