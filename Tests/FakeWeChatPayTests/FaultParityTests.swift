import FakeWeChatPay
import Testing
import WeChatPayV2
import WeChatPayV3

/// One table (`FaultEffect`) decides what each scripted fault does to the order; v2 and v3 only
/// render it. Every fault, scripted on a close of an unpaid order, leaves the order in the same
/// state on both APIs, and that state is the one the table gives.
@Suite struct FaultParityTests {
    static let now: Double = 1_800_000_000
    static let v2MchID = "1900000109", v3MchID = "1900000200", appID = "wx2421b1c4370ec43b"
    static let key = try! APIKey("192006250b4c09247ec02edce69f6a2d")
    static let serial = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
    /// The faults under which the order's own rules run (the close is carried out).
    static let acting: Set<FakeFault> = [.slowAnswer, .badResponseSignature, .staleTimestamp, .unknownSerial]

    func makeFake() -> FakeWeChatPay {
        let fake = FakeWeChatPay(
            merchants: [FakeMerchant(mchID: Self.v2MchID, key: Self.key, appIDs: [Self.appID])], now: { Self.now })
        fake.addV3Merchant(FakeV3Merchant(mchID: Self.v3MchID, serialNo: Self.serial, publicKey: FakeV3Keys.merchant.publicKey))
        return fake
    }

    func closeV2(_ fake: FakeWeChatPay, _ outTradeNo: String) throws {
        let order = try OrderReference(appID: Self.appID, mchID: Self.v2MchID, outTradeNo: outTradeNo)
        let credentials = MerchantCredentials(mchID: Self.v2MchID, signType: .hmacSHA256, key: Self.key)
        let request = try SignedRequest(
            .closeOrder, order: order, credentials: credentials, nonce: "5K8264ILTKCH16CQ2502SI8ZNMTM67VS")
        _ = fake.handle(method: "POST", path: Operation.closeOrder.path, body: request.body)
    }

    func closeV3(_ fake: FakeWeChatPay, _ outTradeNo: String) throws {
        let request = V3Request.close(try V3OrderReference(mchID: Self.v3MchID, outTradeNo: outTradeNo))
        let credentials = try V3Credentials(mchID: Self.v3MchID, serialNo: Self.serial, privateKey: FakeV3Keys.merchant)
        let signed = try SignedV3Request(
            request, credentials: credentials, timestamp: Int64(Self.now), nonce: "593BEC0C930BF1AFEB40B4A08C8FB242")
        _ = fake.handleV3(
            method: request.method, uri: request.canonicalURL, authorization: signed.authorization, body: request.body)
    }

    @Test(arguments: FakeFault.allCases) func aFaultDoesTheSameToTheOrderOnBothAPIs(_ fault: FakeFault) throws {
        let fake = makeFake()
        let number = "PARITY_\(fault)".prefix(32)
        for mchID in [Self.v2MchID, Self.v3MchID] {
            fake.addOrder(mchID: mchID, outTradeNo: String(number), createdAt: Self.now - 600)
            fake.script(mchID: mchID, outTradeNo: String(number), [fault])
        }
        try closeV2(fake, String(number))
        try closeV3(fake, String(number))
        let v2 = fake.orderState(mchID: Self.v2MchID, outTradeNo: String(number))
        let v3 = fake.orderState(mchID: Self.v3MchID, outTradeNo: String(number))
        #expect(v2 == v3, "\(fault): v2 left the order \(String(describing: v2)), v3 \(String(describing: v3))")
        #expect(v2 == (Self.acting.contains(fault) ? .closed : .notPay), "\(fault)")
        #expect(
            fake.calls.count == 2 && fake.calls.allSatisfy { $0.signatureValid && $0.acted == Self.acting.contains(fault) },
            "\(fault): \(fake.calls.map(\.answer))")
    }
}
