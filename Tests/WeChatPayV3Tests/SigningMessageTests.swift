import Foundation
import GatewayVocabulary
import Testing
import WeChatPayV2

@testable import WeChatPayV3

@Suite struct SigningMessageTests {
    /// The "签名生成" page's own example: a GET of /v3/certificates has an empty body line.
    @Test func theDocsGetExampleHasAnEmptyBodyLine() {
        let message = SigningMessage.request(
            method: "GET", canonicalURL: "/v3/certificates", timestamp: 1_554_208_460,
            nonce: "593BEC0C930BF1AFEB40B4A08C8FB242", body: [])
        #expect(
            String(decoding: message, as: UTF8.self) == "GET\n/v3/certificates\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n\n")
    }

    @Test func aCloseMessageNamesThePathAndEndsItsBodyWithANewline() throws {
        let request = V3Request.close(V3TestKeys.direct)
        let message = SigningMessage.request(
            method: request.method, canonicalURL: request.canonicalURL, timestamp: 1_554_208_460,
            nonce: "593BEC0C930BF1AFEB40B4A08C8FB242", body: request.body)
        #expect(
            String(decoding: message, as: UTF8.self) == """
                POST\n/v3/pay/transactions/out-trade-no/1217752501201407033233368018/close\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n{"mchid":"1900000109"}\n
                """)
    }

    /// The "验证签名" page's layout: timestamp, nonce, body, each line ended by a newline.
    @Test func theAnswerMessageIsTimestampNonceBody() {
        let body = Array("{\"data\":[]}".utf8)
        #expect(
            String(
                decoding: SigningMessage.answer(timestamp: "1554209980", nonce: "c5ac7061fccab6bf3e254dcf98995b8c", body: body),
                as: UTF8.self)
                == "1554209980\nc5ac7061fccab6bf3e254dcf98995b8c\n{\"data\":[]}\n")
        #expect(String(decoding: SigningMessage.answer(timestamp: "1", nonce: "n", body: []), as: UTF8.self) == "1\nn\n\n")
    }

    @Test func requestsForDirectAndPartnerMerchants() {
        let close = V3Request.close(V3TestKeys.direct)
        #expect(close.method == "POST")
        #expect(close.canonicalURL == "/v3/pay/transactions/out-trade-no/1217752501201407033233368018/close")
        #expect(String(decoding: close.body, as: UTF8.self) == "{\"mchid\":\"1900000109\"}")
        let query = V3Request.query(V3TestKeys.direct)
        #expect(query.method == "GET" && query.body.isEmpty)
        #expect(query.canonicalURL == "/v3/pay/transactions/out-trade-no/1217752501201407033233368018?mchid=1900000109")

        let partnerClose = V3Request.close(V3TestKeys.partner)
        #expect(partnerClose.canonicalURL == "/v3/pay/partner/transactions/out-trade-no/1217752501201407033233368018/close")
        #expect(
            String(decoding: partnerClose.body, as: UTF8.self) == "{\"sp_mchid\":\"1900000109\",\"sub_mchid\":\"1900000110\"}")
        #expect(
            V3Request.query(V3TestKeys.partner).canonicalURL
                == "/v3/pay/partner/transactions/out-trade-no/1217752501201407033233368018?sp_mchid=1900000109&sub_mchid=1900000110"
        )
    }

    @Test func theAuthorizationHeaderCarriesFiveQuotedFieldsAndItsSignatureVerifies() throws {
        let request = V3Request.close(V3TestKeys.direct)
        let signed = try SignedV3Request(
            request, credentials: V3TestKeys.credentials, timestamp: 1_554_208_460, nonce: "593BEC0C930BF1AFEB40B4A08C8FB242")
        #expect(
            signed.authorization.hasPrefix(
                "WECHATPAY2-SHA256-RSA2048 mchid=\"1900000109\",nonce_str=\"593BEC0C930BF1AFEB40B4A08C8FB242\",signature=\""))
        #expect(
            signed.authorization.hasSuffix("\",timestamp=\"1554208460\",serial_no=\"5157F09EFDC096DE15EBE81A47057A7232F1B8E1\""))
        let fields = try #require(AuthorizationFields(header: signed.authorization))
        #expect(
            fields.mchID == "1900000109" && fields.serialNo == V3TestKeys.credentials.serialNo && fields.timestamp == "1554208460"
        )
        let message = try #require(fields.signingMessage(method: "POST", canonicalURL: request.canonicalURL, body: request.body))
        #expect(V3TestKeys.merchant.publicKey.isValidSignature(fields.signature, for: message))
        #expect(!V3TestKeys.stranger.publicKey.isValidSignature(fields.signature, for: message))
        // 2048-bit RSA: 256 bytes of signature.
        #expect(Data(base64Encoded: fields.signature)?.count == 256)
    }

    @Test func anAuthorizationHeaderWithoutTheSchemeOrAFieldIsNotRead() {
        #expect(AuthorizationFields(header: "Bearer x") == nil)
        #expect(
            AuthorizationFields(header: "WECHATPAY2-SHA256-RSA2048 mchid=\"1\",nonce_str=\"n\",timestamp=\"1\",serial_no=\"A\"")
                == nil)
        #expect(
            AuthorizationFields(
                header: "WECHATPAY2-SHA256-RSA2048 mchid=1,nonce_str=\"n\",signature=\"s\",timestamp=\"1\",serial_no=\"A\"")
                == nil)
    }

    @Test func aRequestForAnotherMerchantOrWithABadNonceIsRefused() throws {
        let other = try V3OrderReference(mchID: "1900000999", outTradeNo: "ORDER_0001")
        #expect(throws: V3Error.self) {
            try SignedV3Request(.close(other), credentials: V3TestKeys.credentials, timestamp: 1, nonce: "abc")
        }
        #expect(throws: V3Error.self) {
            try SignedV3Request(.close(V3TestKeys.direct), credentials: V3TestKeys.credentials, timestamp: 1, nonce: "a b")
        }
        #expect(throws: V3Error.self) {
            try SignedV3Request(.close(V3TestKeys.direct), credentials: V3TestKeys.credentials, timestamp: 1, nonce: "")
        }
    }

    @Test(arguments: [
        ("123456", true), ("ABCdef_-*0123456789abcdefghijklm", true), ("12345", false), ("", false),
        (String(repeating: "1", count: 33), false), ("order|0001", false), ("order@0001", false), ("order 0001", false),
        ("订单000001", false), ("order/0001", false), ("order?0001", false), ("order%0001", false),
    ])
    func theV3OutTradeNoRule(_ value: String, _ valid: Bool) {
        #expect((V3OrderReference.outTradeNoViolation(value) == nil) == valid)
        #expect(((try? V3OrderReference(mchID: "1900000109", outTradeNo: value)) != nil) == valid)
    }

    @Test func aBrokenOutTradeNoIsNamedInTheError() {
        #expect(V3OrderReference.outTradeNoViolation("ab|cdef")?.contains("[0-9A-Za-z_-*]") == true)
        #expect(V3OrderReference.outTradeNoViolation("abc")?.contains("6 to 32") == true)
    }

    @Test func anOrderKeyBecomesAV3ReferenceOrSaysWhyNot() throws {
        let v2 = OrderKey(appID: "wx2421b1c4370ec43b", mchID: "1900000109", outTradeNo: "A|1", subMchID: nil)
        #expect(throws: V3Error.self) { try V3OrderReference(v2) }
        let partner = OrderKey(appID: "wx2421b1c4370ec43b", mchID: "1900000109", outTradeNo: "order_0001", subMchID: "1900000110")
        #expect(try V3OrderReference(partner).subMchID == "1900000110")
    }

    @Test func secretsNeverPrint() throws {
        let key = V3TestKeys.merchant
        #expect("\(key)" == "<redacted>")
        #expect(String(reflecting: key) == "MerchantPrivateKey(<redacted>)")
        let apiV3 = try APIv3Key("0123456789abcdef0123456789abcdef")
        #expect("\(apiV3)" == "<redacted>")
        let error = #expect(throws: V3Error.self) { try APIv3Key("0123456789abcdef0123456789abcdef\n") }
        #expect(error?.message.contains("0123456789") == false)
        let pem = key.pkcs8PEM
        let broken = #expect(throws: V3Error.self) { try MerchantPrivateKey(pem: String(pem.dropLast(40))) }
        #expect(broken?.message.contains("MII") == false)
    }

    @Test func aKeyFileMayEndInOneNewline() throws {
        _ = try APIv3Key(fileContents: "0123456789abcdef0123456789abcdef\n")
        #expect(throws: V3Error.self) { try APIv3Key(fileContents: "0123456789abcdef0123456789abcdef\n\n") }
    }
}
