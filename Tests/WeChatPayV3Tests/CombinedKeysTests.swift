import Testing
import WeChatPayV2

@testable import WeChatPayV3

/// Issue 21, item 5: during WeChat's staged switch from platform certificates to the WeChat Pay
/// public key, answers come signed by either; a merchant that configures both accepts both.
@Suite struct CombinedKeysTests {
    typealias K = V3TestKeys

    static let certificate = try! PlatformCertificate(
        pem: PlatformCertificate.selfSigned(
            key: K.stranger, serial: [0x5E, 0x71], commonName: "Tenpay.com Root CA",
            notValidBefore: K.now - 86_400, notValidAfter: K.now + 86_400 * 365))

    @Test func eitherModeAloneRefusesTheOthersAnswers() {
        let certificates = WeChatPayKeys(certificates: [Self.certificate])
        let byPublicKey = #expect(throws: V3Error.self) {
            try AnswerVerifier.verify(K.signed(status: 204, body: ""), keys: certificates, nowSeconds: K.now)
        }
        #expect(byPublicKey?.kind == .unknownSerial)
        let byCertificate = #expect(throws: V3Error.self) {
            try AnswerVerifier.verify(
                K.signed(status: 204, body: "", serial: "5E71", key: K.stranger), keys: K.keys, nowSeconds: K.now)
        }
        #expect(byCertificate?.kind == .unknownSerial)
    }

    @Test func bothTogetherVerifyEitherSignature() throws {
        let both = K.keys.adding(WeChatPayKeys(certificates: [Self.certificate]))
        #expect(both.mode == .both)
        #expect(both.serials == ["5E71", K.publicKeyID])
        try AnswerVerifier.verify(K.signed(status: 204, body: ""), keys: both, nowSeconds: K.now)
        try AnswerVerifier.verify(K.signed(status: 204, body: "", serial: "5E71", key: K.stranger), keys: both, nowSeconds: K.now)
        // Each serial still needs its own key's signature.
        let crossed = #expect(throws: V3Error.self) {
            try AnswerVerifier.verify(K.signed(status: 204, body: "", serial: "5E71"), keys: both, nowSeconds: K.now)
        }
        #expect(crossed?.kind == .verification)
        #expect(both.earliestExpiry == K.now + 86_400 * 365, "the public key adds no expiry")
    }

    @Test func droppingExpiredCertificatesKeepsThePublicKey() {
        let both = K.keys.adding(WeChatPayKeys(certificates: [Self.certificate]))
        let later = both.withoutExpired(at: K.now + 86_400 * 366)
        #expect(later.serials == [K.publicKeyID])
        #expect(later.earliestExpiry == nil)
    }
}
