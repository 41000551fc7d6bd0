import FakeWeChatPay
import Testing
import WeChatPayV2

/// The fake's own rules, checked without HTTP, and against WeChat's official signing vector so the
/// fake and the client cannot agree on a wrong signature.
@Suite struct FakeRulesTests {
    static let officialKey = try! APIKey("192006250b4c09247ec02edce69f6a2d")
    static let official = [
        "appid": "wxd930ea5d5a258f4f", "mch_id": "10000100", "device_info": "1000",
        "body": "test", "nonce_str": "ibuaiVcKdpRxkhJA",
    ]

    func makeFake(now: Double = 2_000_000_000) -> FakeWeChatPay {
        FakeWeChatPay(
            merchants: [FakeMerchant(mchID: "10000100", key: Self.officialKey, appIDs: ["wxd930ea5d5a258f4f"])],
            now: { now })
    }

    func post(_ fake: FakeWeChatPay, _ fields: [String: String], path: String = "/pay/closeorder") throws -> [String: String] {
        let answer = fake.handle(method: "POST", path: path, body: try XMLBodyEncoder.encode(fields))
        guard case .respond(200, let body) = answer.action else {
            Issue.record("no 200 answer")
            return [:]
        }
        return try StrictXMLDecoder.decode(body)
    }

    @Test func acceptsTheOfficialMD5Vector() throws {
        let fake = makeFake()
        var fields = Self.official
        fields["sign"] = "9A0A8659F005D6984697E2CA0A9CF3B7"
        let answer = try post(fake, fields)
        // Past the signature, it complains about the missing out_trade_no, not the sign.
        #expect(answer["return_msg"] == "缺少参数out_trade_no")
        #expect(fake.calls.last?.signatureValid == true)
    }

    @Test func officialHMACValueIsRejectedOnceSignTypeIsSent() throws {
        let fake = makeFake()
        var fields = Self.official
        fields["sign_type"] = "HMAC-SHA256"
        // sign_type is signed, so the official HMAC value (computed without it) no longer matches.
        fields["sign"] = "6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6"
        #expect(try post(fake, fields)["return_msg"] == "签名错误，请检查后再试")
        #expect(fake.calls.last?.signatureValid == false)
    }

    @Test func rejectsANearMissOfTheOfficialVector() throws {
        let fake = makeFake()
        var fields = Self.official
        fields["sign"] = "9A0A8659F005D6984697E2CA0A9CF3B6"
        let answer = try post(fake, fields)
        #expect(answer["return_code"] == "FAIL")
        #expect(answer["return_msg"] == "签名错误，请检查后再试")
        #expect(answer["sign"] == nil)
    }

    @Test func flagsEarlyClosesAsViolations() throws {
        let fake = makeFake(now: 1_000_000_299)
        fake.addOrder(mchID: "10000100", outTradeNo: "YOUNG", createdAt: 1_000_000_000)
        var fields = [
            "appid": "wxd930ea5d5a258f4f", "mch_id": "10000100", "out_trade_no": "YOUNG",
            "nonce_str": Nonce.make(), "sign_type": "MD5",
        ]
        fields["sign"] = Signer.sign(fields, type: .md5, key: Self.officialKey)
        _ = try post(fake, fields)
        #expect(fake.violations.count == 1)
        #expect(fake.calls.last?.orderAge == 299)
    }

    @Test func ordinaryMerchantMayNotSendSubMchID() throws {
        let fake = makeFake()
        fake.addOrder(mchID: "10000100", outTradeNo: "SUB", createdAt: 1)
        var fields = [
            "appid": "wxd930ea5d5a258f4f", "mch_id": "10000100", "out_trade_no": "SUB",
            "nonce_str": Nonce.make(), "sub_mch_id": "1900000000",
        ]
        fields["sign"] = Signer.sign(fields, type: .md5, key: Self.officialKey)
        #expect(try post(fake, fields)["return_msg"] == "普通商户不允许传sub_mch_id")
        #expect(fake.orderState(mchID: "10000100", outTradeNo: "SUB") == .notPay)
    }

    @Test func signsAnswersWithTheRequestSignType() throws {
        let fake = makeFake()
        fake.addOrder(mchID: "10000100", outTradeNo: "H1", createdAt: 1)
        var fields = [
            "appid": "wxd930ea5d5a258f4f", "mch_id": "10000100", "out_trade_no": "H1",
            "nonce_str": Nonce.make(), "sign_type": "HMAC-SHA256",
        ]
        fields["sign"] = Signer.sign(fields, type: .hmacSHA256, key: Self.officialKey)
        let answer = try post(fake, fields)
        #expect(answer["result_code"] == "SUCCESS")
        #expect(Signer.isValid(sign: answer["sign"]!, for: answer, type: .hmacSHA256, key: Self.officialKey))
        #expect(!Signer.isValid(sign: answer["sign"]!, for: answer, type: .md5, key: Self.officialKey))
    }
}
