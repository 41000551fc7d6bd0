import FakeWeChatPay
import Logging
import OrderClosing
import OrderClosingTestSupport
import Testing
import WeChatPayHTTP
import WeChatPayV2
import WeChatPayV3

/// Issue 21, item 5, over real loopback HTTP: the fake switches a merchant from platform
/// certificates to the WeChat Pay public key, as WeChat does in stages. A merchant configured with
/// one mode refuses the other's answers; one configured with both believes every answer.
@Suite(.serialized) struct V3CombinedVerificationTests {
    static let mchID = "1900000210"
    static let serial = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
    static let apiV3Key = try! APIv3Key("0123456789abcdef0123456789abcdef")

    @Test func bothConfiguredBelievesAnswersSignedEitherWayDuringTheSwitch() async throws {
        let base = try await FakeFixture.start()
        func signing(_ mode: FakeV3Merchant.Verification) {
            base.fake.addV3Merchant(
                FakeV3Merchant(
                    mchID: Self.mchID, serialNo: Self.serial, publicKey: FakeV3Keys.merchant.publicKey,
                    verification: mode, apiV3Key: Self.apiV3Key))
        }
        func order(_ name: String) throws -> OrderKey {
            base.fake.addOrder(
                mchID: Self.mchID, outTradeNo: name, createdAt: Double(base.clock.now()) / 1000 - 600, state: .notPay)
            return try OrderReference(appID: FakeFixture.appID, mchID: Self.mchID, outTradeNo: name).key
        }
        let identity = base.fake.v3Identity
        let publicKey = try WeChatPayKeys(publicKeyID: identity.publicKeyID, key: RSAPublicKey(pem: identity.publicKeyPEM))
        let credentials = try V3Credentials(mchID: Self.mchID, serialNo: Self.serial, privateKey: FakeV3Keys.merchant)
        let publicKeyOnly = V3Merchant(credentials: credentials, verification: .publicKey(publicKey))
        let certificatesOnly = V3Merchant(
            credentials: credentials, verification: .platformCertificates(Self.apiV3Key, PlatformCertificateCache()))
        let both = V3Merchant(
            credentials: credentials,
            verification: .publicKeyAndPlatformCertificates(publicKey, Self.apiV3Key, PlatformCertificateCache()))
        let gateway = WeChatPayV3HTTPGateway(transport: base.gateway.transport)

        // Stage 1: answers signed by the platform certificate.
        signing(.platformCertificate)
        let refusedByPublicKey = await gateway.queryOrder(try order("SWITCH_1"), merchant: publicKeyOnly)
        #expect(!refusedByPublicKey.summary.verified)
        let bothBeforeSwitch = await gateway.queryOrder(try order("SWITCH_2"), merchant: both)
        #expect(bothBeforeSwitch.summary.verified, "\(bothBeforeSwitch.outcome)")
        #expect(bothBeforeSwitch.outcome == .state(.notPay, transactionID: nil))

        // Stage 2: the same merchant's answers now signed by the WeChat Pay public key.
        signing(.publicKey)
        let certificatesFirst = await gateway.queryOrder(try order("SWITCH_3"), merchant: certificatesOnly)
        #expect(certificatesFirst.summary.verified == false)
        let bothAfterSwitch = await gateway.queryOrder(try order("SWITCH_4"), merchant: both)
        #expect(bothAfterSwitch.summary.verified, "\(bothAfterSwitch.outcome)")
        #expect(bothAfterSwitch.outcome == .state(.notPay, transactionID: nil))
        let close = await gateway.closeOrder(try order("SWITCH_5"), merchant: both)
        #expect(close.summary.verified && close.outcome == .unconfirmed(.closed))

        // The combined merchant fetched certificates once, before its first call.
        let fetches = base.fake.calls.filter { $0.path == "/v3/certificates" }.count
        #expect(fetches == 2, "one fetch each for the certificate-mode and the combined merchant: \(fetches)")
        try await base.shutdown()
    }
}
