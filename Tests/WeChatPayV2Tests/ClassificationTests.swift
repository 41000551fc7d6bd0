import Foundation
import GatewayVocabulary
import Testing

@testable import WeChatPayV2

/// Builds responses the way WeChat does, to drive the classifier through every row of its table.
struct ResponseFactory {
    let order: OrderReference
    let credentials: MerchantCredentials

    static func make(_ signType: SignType = .md5, subMchID: String? = nil, subAppID: String? = nil) throws -> ResponseFactory {
        try ResponseFactory(
            order: OrderReference(
                appID: "wxd930ea5d5a258f4f", mchID: "10000100", outTradeNo: "T-1", subMchID: subMchID, subAppID: subAppID),
            credentials: MerchantCredentials(
                mchID: "10000100", signType: signType, key: APIKey("192006250b4c09247ec02edce69f6a2d")))
    }

    func signed(_ fields: [String: String], signType: SignType? = nil) -> [String: String] {
        var fields = fields
        fields["appid"] = fields["appid"] ?? order.appID
        fields["mch_id"] = fields["mch_id"] ?? order.mchID
        fields["nonce_str"] = "5K8264ILTKCH16CQ2502SI8ZNMTM67VS"
        fields["sign"] = Signer.sign(fields, type: signType ?? credentials.signType, key: credentials.key)
        return fields
    }

    func close(_ fields: [String: String], status: Int = 200) -> CloseOutcome {
        ResponseClassifier.classifyClose(
            httpStatus: status, body: try! XMLBodyEncoder.encode(fields), order: order, credentials: credentials
        ).0
    }

    func query(_ fields: [String: String], status: Int = 200) -> QueryOutcome {
        ResponseClassifier.classifyQuery(
            httpStatus: status, body: try! XMLBodyEncoder.encode(fields), order: order, credentials: credentials
        ).0
    }

    /// A signed query answer about this order (or about `outTradeNo`, when given).
    func tradeState(_ state: String, outTradeNo: String?? = .none, transactionID: String? = nil) -> [String: String] {
        var fields = ["return_code": "SUCCESS", "return_msg": "OK", "result_code": "SUCCESS", "trade_state": state]
        switch outTradeNo {
        case .none: fields["out_trade_no"] = order.outTradeNo
        case .some(let other): fields["out_trade_no"] = other
        }
        fields["transaction_id"] = transactionID
        return signed(fields)
    }

    func business(_ result: String, _ errCode: String? = nil) -> [String: String] {
        var fields = ["return_code": "SUCCESS", "return_msg": "OK", "result_code": result]
        if let errCode {
            fields["err_code"] = errCode
            fields["err_code_des"] = "描述"
        }
        return signed(fields)
    }
}

@Suite struct ClassificationTests {
    static let rows: [(String?, CloseOutcome)] = [
        (nil, .closed),
        ("ORDERCLOSED", .alreadyClosed),
        ("ORDERNOTEXIST", .notExist),
        ("ORDERPAID", .paid),
        ("SYSTEMERROR", .retryable(.systemError)),
        ("FREQUENCY_LIMITED", .retryable(.frequencyLimited)),
        ("SIGNERROR", .configurationError(.signature("SIGNERROR: 描述"))),
        ("REQUIRE_POST_METHOD", .configurationError("REQUIRE_POST_METHOD: 描述")),
        ("XML_FORMAT_ERROR", .configurationError("XML_FORMAT_ERROR: 描述")),
        ("TRADE_STATE_ERROR", .unknownCode("TRADE_STATE_ERROR")),
        ("USERPAYING", .unknownCode("USERPAYING")),
    ]

    @Test(arguments: rows) func businessCodes(_ row: (String?, CloseOutcome)) throws {
        for signType in SignType.allCases {
            let factory = try ResponseFactory.make(signType)
            #expect(factory.close(factory.business(row.0 == nil ? "SUCCESS" : "FAIL", row.0)) == row.1)
        }
    }

    @Test func httpErrorsAreRetried() throws {
        let factory = try ResponseFactory.make()
        #expect(factory.close(factory.business("SUCCESS"), status: 503) == .retryable(.httpStatus(503)))
        #expect(factory.close(factory.business("SUCCESS"), status: 500) == .retryable(.httpStatus(500)))
    }

    @Test func unparseableBodyIsRetried() throws {
        let factory = try ResponseFactory.make()
        let outcome = ResponseClassifier.classifyClose(
            httpStatus: 200, body: Array("<xml><return_code>SUC".utf8),
            order: factory.order, credentials: factory.credentials
        ).0
        guard case .retryable(.unparseable) = outcome else {
            Issue.record("got \(outcome)")
            return
        }
    }

    @Test func returnCodeFailIsConfigurationEvenIfItClaimsPaid() throws {
        let factory = try ResponseFactory.make()
        let outcome = factory.close([
            "return_code": "FAIL", "return_msg": "签名错误，请检查后再试",
            "result_code": "FAIL", "err_code": "ORDERPAID",
        ])
        #expect(outcome == .configurationError(.signature("return_code FAIL: 签名错误，请检查后再试")))
    }

    @Test func missingSignOnSuccessIsNotBelieved() throws {
        let factory = try ResponseFactory.make()
        var fields = factory.business("FAIL", "ORDERPAID")
        fields["sign"] = nil
        guard case .retryable(.badSignature) = factory.close(fields) else {
            Issue.record("believed")
            return
        }
    }

    @Test func signOfTheWrongTypeIsNotBelieved() throws {
        let factory = try ResponseFactory.make(.hmacSHA256)
        let fields = factory.signed(["return_code": "SUCCESS", "result_code": "SUCCESS"], signType: .md5)
        guard case .retryable(.badSignature) = factory.close(fields) else {
            Issue.record("believed")
            return
        }
    }

    @Test func forgedUnknownFieldBreaksTheSign() throws {
        let factory = try ResponseFactory.make()
        var fields = factory.business("FAIL", "ORDERPAID")
        fields["transaction_id"] = "4200000000000000"
        guard case .retryable(.badSignature) = factory.close(fields) else {
            Issue.record("believed")
            return
        }
    }

    @Test func wrongEchoedIDsAreNotBelieved() throws {
        let factory = try ResponseFactory.make()
        let otherApp = factory.signed(["return_code": "SUCCESS", "result_code": "SUCCESS", "appid": "wxother"])
        guard case .retryable(.badSignature) = factory.close(otherApp) else {
            Issue.record("believed")
            return
        }
        let otherMerchant = factory.signed(["return_code": "SUCCESS", "result_code": "SUCCESS", "mch_id": "999"])
        guard case .retryable(.badSignature) = factory.close(otherMerchant) else {
            Issue.record("believed")
            return
        }
    }

    @Test func echoedIDsAreOptional() throws {
        let factory = try ResponseFactory.make()
        var fields = ["return_code": "SUCCESS", "result_code": "SUCCESS", "nonce_str": "abc"]
        fields["sign"] = Signer.sign(fields, type: .md5, key: factory.credentials.key)
        #expect(factory.close(fields) == .closed)
    }

    @Test func queryReadsTradeStateAndTransaction() throws {
        let factory = try ResponseFactory.make()
        let fields = factory.signed([
            "return_code": "SUCCESS", "result_code": "SUCCESS", "trade_state": "SUCCESS",
            "out_trade_no": "T-1", "transaction_id": "4200001234",
        ])
        let outcome = ResponseClassifier.classifyQuery(
            httpStatus: 200, body: try XMLBodyEncoder.encode(fields),
            order: factory.order, credentials: factory.credentials
        ).0
        #expect(outcome == .state(.success, transactionID: "4200001234"))
    }
}

/// Issue 10, defect 2: faults about one order's own parameters are not merchant-wide.
@Suite struct RejectionTests {
    static let merchantWide = [
        "SIGNERROR", "REQUIRE_POST_METHOD", "XML_FORMAT_ERROR", "APPID_NOT_EXIST",
        "MCHID_NOT_EXIST", "APPID_MCHID_NOT_MATCH",
    ]
    static let aboutTheOrder = ["PARAM_ERROR", "INVALID_REQUEST", "LACK_PARAMS", "NOAUTH"]

    @Test(arguments: merchantWide) func merchantSetupCodesAreConfigurationErrors(_ code: String) throws {
        let factory = try ResponseFactory.make()
        let close = factory.close(factory.business("FAIL", code))
        #expect(close.description == "configuration error (\(code): 描述)")
        #expect(factory.query(factory.business("FAIL", code)).description == "configuration error (\(code): 描述)")
        // Only SIGNERROR says the key or sign type is wrong (`check-config --online` names it so).
        let kind: SetupFault.Kind = code == "SIGNERROR" ? .signature : .other
        #expect(close == .configurationError(SetupFault(kind, "\(code): 描述")))
    }

    @Test(arguments: aboutTheOrder) func orderParameterCodesRejectOnlyTheOrder(_ code: String) throws {
        let factory = try ResponseFactory.make()
        let close = factory.close(factory.business("FAIL", code))
        #expect(close.description == "order rejected (\(code): 描述)")
        #expect(factory.query(factory.business("FAIL", code)).description == "order rejected (\(code): 描述)")
    }

    @Test(arguments: ["签名错误，请检查后再试", "签名错误", "sign error", "Invalid SIGN", "sign_type参数错误"])
    func returnCodeFailAboutTheSignatureIsAConfigurationError(_ message: String) throws {
        let factory = try ResponseFactory.make()
        let fields = ["return_code": "FAIL", "return_msg": message]
        #expect(factory.close(fields).description == "configuration error (return_code FAIL: \(message))")
        #expect(factory.close(fields) == .configurationError(.signature("return_code FAIL: \(message)")))
        #expect(factory.query(fields).description == "configuration error (return_code FAIL: \(message))")
    }

    @Test(arguments: ["普通商户不允许传sub_mch_id", "out_trade_no参数错误", ""])
    func anyOtherReturnCodeFailRejectsTheOrder(_ message: String) throws {
        let factory = try ResponseFactory.make()
        var fields = ["return_code": "FAIL"]
        if !message.isEmpty { fields["return_msg"] = message }
        let named = message.isEmpty ? "no return_msg" : message
        #expect(factory.close(fields).description == "order rejected (return_code FAIL: \(named))")
        #expect(factory.query(fields).description == "order rejected (return_code FAIL: \(named))")
    }
}

/// Issue 10, defect 5: an answer is believed only about the order that was asked about.
@Suite struct EchoTests {
    func notBelieved(_ outcome: QueryOutcome, naming fragment: String = "names another order") -> Bool {
        guard case .retryable(.badSignature(let reason)) = outcome else { return false }
        return reason.contains(fragment)
    }

    @Test(arguments: SignType.allCases) func aQueryAnswerAboutAnotherOrderIsNotBelieved(_ signType: SignType) throws {
        let factory = try ResponseFactory.make(signType)
        let foreign = factory.tradeState("SUCCESS", outTradeNo: "T-2", transactionID: "4200000000000000000000000099")
        #expect(notBelieved(factory.query(foreign)), "got \(factory.query(foreign))")
    }

    @Test func aQueryAnswerWithTradeStateMustNameTheOrder() throws {
        let factory = try ResponseFactory.make()
        let unnamed = factory.tradeState("SUCCESS", outTradeNo: .some(nil), transactionID: "4200000000000000000000000099")
        #expect(notBelieved(factory.query(unnamed), naming: "out_trade_no"), "got \(factory.query(unnamed))")
        #expect(factory.query(factory.tradeState("SUCCESS", transactionID: "42")) == .state(.success, transactionID: "42"))
    }

    @Test func subMerchantEchoesMustBeTheRequests() throws {
        let factory = try ResponseFactory.make(subMchID: "1900000111", subAppID: "wxsub0000000001")
        var same = [
            "return_code": "SUCCESS", "result_code": "SUCCESS", "trade_state": "NOTPAY", "out_trade_no": "T-1",
            "sub_mch_id": "1900000111", "sub_appid": "wxsub0000000001",
        ]
        #expect(factory.query(factory.signed(same)) == .state(.notPay, transactionID: nil))
        same["sub_mch_id"] = "1900000112"
        #expect(notBelieved(factory.query(factory.signed(same))))
        same["sub_mch_id"] = "1900000111"
        same["sub_appid"] = "wxsub0000000002"
        #expect(notBelieved(factory.query(factory.signed(same))))
        // Omitted echoes are allowed, as for appid and mch_id.
        same["sub_appid"] = nil
        same["sub_mch_id"] = nil
        #expect(factory.query(factory.signed(same)) == .state(.notPay, transactionID: nil))
    }

    @Test func anAnswerNamingASubMerchantThatWasNotAskedAboutIsNotBelieved() throws {
        let factory = try ResponseFactory.make()
        let fields = factory.signed([
            "return_code": "SUCCESS", "result_code": "SUCCESS", "trade_state": "SUCCESS",
            "out_trade_no": "T-1", "sub_mch_id": "1900000111", "transaction_id": "42",
        ])
        #expect(notBelieved(factory.query(fields)))
    }

    @Test func closeAnswerEchoesAreCheckedWhenPresent() throws {
        let factory = try ResponseFactory.make(subMchID: "1900000111")
        var fields = ["return_code": "SUCCESS", "result_code": "FAIL", "err_code": "ORDERPAID", "out_trade_no": "T-2"]
        guard case .retryable(.badSignature(let reason)) = factory.close(factory.signed(fields)) else {
            Issue.record("believed: \(factory.close(factory.signed(fields)))")
            return
        }
        #expect(reason.contains("names another order"))
        fields["out_trade_no"] = "T-1"
        fields["sub_mch_id"] = "1900000112"
        guard case .retryable(.badSignature) = factory.close(factory.signed(fields)) else {
            Issue.record("believed")
            return
        }
        fields["sub_mch_id"] = "1900000111"
        #expect(factory.close(factory.signed(fields)) == .paid)
    }
}

/// Issue 10, defect 6: all eight trade states are read.
@Suite struct TradeStateTests {
    static let all = ["SUCCESS", "REFUND", "NOTPAY", "CLOSED", "REVOKED", "USERPAYING", "PAYERROR", "ACCEPT"]

    @Test(arguments: all) func everyTradeStateIsRead(_ raw: String) throws {
        let factory = try ResponseFactory.make()
        #expect(factory.query(factory.tradeState(raw)).description == "trade_state \(raw)")
    }
}

@Suite struct RequestTests {
    @Test func validatesOutTradeNo() {
        for good in ["a", "A-1_b|c*d@e", String(repeating: "9", count: 32)] {
            #expect(OrderReference.isValidOutTradeNo(good))
        }
        for bad in ["", " a", "a ", "a.b", "中", String(repeating: "9", count: 33), "a#b"] {
            #expect(!OrderReference.isValidOutTradeNo(bad))
        }
    }

    @Test func rejectsLongOrPaddedFields() {
        #expect(throws: ProtocolError.self) {
            try OrderReference(appID: String(repeating: "w", count: 33), mchID: "1", outTradeNo: "a")
        }
        #expect(throws: ProtocolError.self) { try OrderReference(appID: "wx ", mchID: "1", outTradeNo: "a") }
        #expect(throws: ProtocolError.self) { try OrderReference(appID: "wx", mchID: "1", outTradeNo: "a", subAppID: "wxsub") }
    }

    @Test func optionalSubFieldsAreSentOnlyWhenSet() throws {
        let credentials = try MerchantCredentials(mchID: "1", signType: .md5, key: APIKey("k"))
        let plain = try SignedRequest(
            .closeOrder, order: OrderReference(appID: "wx", mchID: "1", outTradeNo: "a", subMchID: ""),
            credentials: credentials, nonce: Nonce.make())
        let plainFields = try StrictXMLDecoder.decode(plain.body)
        #expect(plainFields["sub_mch_id"] == nil && plainFields["sub_appid"] == nil)
        let provider = try SignedRequest(
            .closeOrder, order: OrderReference(appID: "wx", mchID: "1", outTradeNo: "a", subMchID: "2"),
            credentials: credentials, nonce: Nonce.make())
        #expect(try StrictXMLDecoder.decode(provider.body)["sub_mch_id"] == "2")
    }

    @Test(arguments: SignType.allCases) func roundTripThroughEncoderDecoderAndVerify(_ signType: SignType) throws {
        let credentials = try MerchantCredentials(
            mchID: "10000100", signType: signType, key: APIKey("192006250b4c09247ec02edce69f6a2d"))
        let order = try OrderReference(
            appID: "wxd930ea5d5a258f4f", mchID: "10000100", outTradeNo: "T]]>1".replacingOccurrences(of: "]]>", with: "-"))
        let request = try SignedRequest(.closeOrder, order: order, credentials: credentials, nonce: Nonce.make())
        let fields = try StrictXMLDecoder.decode(request.body)
        #expect(fields["sign_type"] == signType.rawValue)
        #expect(fields["nonce_str"]?.count == 32)
        #expect(Signer.isValid(sign: fields["sign"]!, for: fields, type: signType, key: credentials.key))
        var echoed = fields
        echoed["return_code"] = "SUCCESS"
        echoed["sign"] = Signer.sign(echoed, type: signType, key: credentials.key)
        try ResponseVerifier.verify(echoed, for: order, credentials: credentials)
    }

    @Test func refusesCredentialsOfAnotherMerchant() throws {
        let credentials = try MerchantCredentials(mchID: "2", signType: .md5, key: APIKey("k"))
        #expect(throws: ProtocolError.self) {
            try SignedRequest(
                .closeOrder, order: OrderReference(appID: "wx", mchID: "1", outTradeNo: "a"), credentials: credentials, nonce: "n"
            )
        }
    }
}
