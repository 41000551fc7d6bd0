import Testing
@testable import WeChatPayV2

/// Builds responses the way WeChat does, to drive the classifier through every row of its table.
struct ResponseFactory {
    let order: OrderReference
    let credentials: MerchantCredentials

    static func make(_ signType: SignType = .md5) throws -> ResponseFactory {
        try ResponseFactory(
            order: OrderReference(appID: "wxd930ea5d5a258f4f", mchID: "10000100", outTradeNo: "T-1"),
            credentials: MerchantCredentials(mchID: "10000100", signType: signType, key: APIKey("192006250b4c09247ec02edce69f6a2d")))
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
        ResponseClassifier.classifyClose(httpStatus: status, body: try! XMLBodyEncoder.encode(fields), order: order, credentials: credentials).0
    }

    func business(_ result: String, _ errCode: String? = nil) -> [String: String] {
        var fields = ["return_code": "SUCCESS", "return_msg": "OK", "result_code": result]
        if let errCode { fields["err_code"] = errCode; fields["err_code_des"] = "描述" }
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
        ("SIGNERROR", .configurationError("SIGNERROR: 描述")),
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
        let outcome = ResponseClassifier.classifyClose(httpStatus: 200, body: Array("<xml><return_code>SUC".utf8),
                                                       order: factory.order, credentials: factory.credentials).0
        guard case .retryable(.unparseable) = outcome else { Issue.record("got \(outcome)"); return }
    }

    @Test func returnCodeFailIsConfigurationEvenIfItClaimsPaid() throws {
        let factory = try ResponseFactory.make()
        let outcome = factory.close(["return_code": "FAIL", "return_msg": "签名错误，请检查后再试",
                                     "result_code": "FAIL", "err_code": "ORDERPAID"])
        #expect(outcome == .configurationError("return_code FAIL: 签名错误，请检查后再试"))
    }

    @Test func missingSignOnSuccessIsNotBelieved() throws {
        let factory = try ResponseFactory.make()
        var fields = factory.business("FAIL", "ORDERPAID")
        fields["sign"] = nil
        guard case .retryable(.badSignature) = factory.close(fields) else { Issue.record("believed"); return }
    }

    @Test func signOfTheWrongTypeIsNotBelieved() throws {
        let factory = try ResponseFactory.make(.hmacSHA256)
        let fields = factory.signed(["return_code": "SUCCESS", "result_code": "SUCCESS"], signType: .md5)
        guard case .retryable(.badSignature) = factory.close(fields) else { Issue.record("believed"); return }
    }

    @Test func forgedUnknownFieldBreaksTheSign() throws {
        let factory = try ResponseFactory.make()
        var fields = factory.business("FAIL", "ORDERPAID")
        fields["transaction_id"] = "4200000000000000"
        guard case .retryable(.badSignature) = factory.close(fields) else { Issue.record("believed"); return }
    }

    @Test func wrongEchoedIDsAreNotBelieved() throws {
        let factory = try ResponseFactory.make()
        let otherApp = factory.signed(["return_code": "SUCCESS", "result_code": "SUCCESS", "appid": "wxother"])
        guard case .retryable(.badSignature) = factory.close(otherApp) else { Issue.record("believed"); return }
        let otherMerchant = factory.signed(["return_code": "SUCCESS", "result_code": "SUCCESS", "mch_id": "999"])
        guard case .retryable(.badSignature) = factory.close(otherMerchant) else { Issue.record("believed"); return }
    }

    @Test func echoedIDsAreOptional() throws {
        let factory = try ResponseFactory.make()
        var fields = ["return_code": "SUCCESS", "result_code": "SUCCESS", "nonce_str": "abc"]
        fields["sign"] = Signer.sign(fields, type: .md5, key: factory.credentials.key)
        #expect(factory.close(fields) == .closed)
    }

    @Test func queryReadsTradeStateAndTransaction() throws {
        let factory = try ResponseFactory.make()
        let fields = factory.signed(["return_code": "SUCCESS", "result_code": "SUCCESS", "trade_state": "SUCCESS",
                                     "transaction_id": "4200001234"])
        let outcome = ResponseClassifier.classifyQuery(httpStatus: 200, body: try XMLBodyEncoder.encode(fields),
                                                       order: factory.order, credentials: factory.credentials).0
        #expect(outcome == .state(.success, transactionID: "4200001234"))
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
        #expect(throws: ProtocolError.self) { try OrderReference(appID: String(repeating: "w", count: 33), mchID: "1", outTradeNo: "a") }
        #expect(throws: ProtocolError.self) { try OrderReference(appID: "wx ", mchID: "1", outTradeNo: "a") }
        #expect(throws: ProtocolError.self) { try OrderReference(appID: "wx", mchID: "1", outTradeNo: "a", subAppID: "wxsub") }
    }

    @Test func optionalSubFieldsAreSentOnlyWhenSet() throws {
        let credentials = try MerchantCredentials(mchID: "1", signType: .md5, key: APIKey("k"))
        let plain = try SignedRequest(.closeOrder, order: OrderReference(appID: "wx", mchID: "1", outTradeNo: "a", subMchID: ""),
                                      credentials: credentials, nonce: Nonce.make())
        let plainFields = try StrictXMLDecoder.decode(plain.body)
        #expect(plainFields["sub_mch_id"] == nil && plainFields["sub_appid"] == nil)
        let provider = try SignedRequest(.closeOrder, order: OrderReference(appID: "wx", mchID: "1", outTradeNo: "a", subMchID: "2"),
                                         credentials: credentials, nonce: Nonce.make())
        #expect(try StrictXMLDecoder.decode(provider.body)["sub_mch_id"] == "2")
    }

    @Test(arguments: SignType.allCases) func roundTripThroughEncoderDecoderAndVerify(_ signType: SignType) throws {
        let credentials = try MerchantCredentials(mchID: "10000100", signType: signType, key: APIKey("192006250b4c09247ec02edce69f6a2d"))
        let order = try OrderReference(appID: "wxd930ea5d5a258f4f", mchID: "10000100", outTradeNo: "T]]>1".replacingOccurrences(of: "]]>", with: "-"))
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
            try SignedRequest(.closeOrder, order: OrderReference(appID: "wx", mchID: "1", outTradeNo: "a"), credentials: credentials, nonce: "n")
        }
    }
}
