import FakeWeChatPay
import GatewayVocabulary
import Testing
import WeChatPayV2
import WeChatPayV3

/// The fake's v3 rules, without HTTP: it verifies the merchant's RSA signature, signs its answers
/// with its own key, serves encrypted platform certificates, and plays the v3 faults.
@Suite struct FakeV3Tests {
    static let merchantKey = FakeV3Keys.merchant
    static let mchID = "1900000109"
    static let serial = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
    static let apiV3Key = try! APIv3Key("0123456789abcdef0123456789abcdef")
    static let now: Double = 1_800_000_000
    static let credentials = try! V3Credentials(mchID: mchID, serialNo: serial, privateKey: merchantKey)

    func makeFake(verification: FakeV3Merchant.Verification = .publicKey, serviceProvider: Bool = false) -> FakeWeChatPay {
        let fake = FakeWeChatPay(merchants: [], now: { Self.now })
        fake.addV3Merchant(
            FakeV3Merchant(
                mchID: Self.mchID, serialNo: Self.serial, publicKey: Self.merchantKey.publicKey,
                verification: verification, apiV3Key: Self.apiV3Key, isServiceProvider: serviceProvider))
        return fake
    }

    func keys(_ fake: FakeWeChatPay) throws -> WeChatPayKeys {
        try WeChatPayKeys(publicKeyID: fake.v3Identity.publicKeyID, key: RSAPublicKey(pem: fake.v3Identity.publicKeyPEM))
    }

    func send(_ fake: FakeWeChatPay, _ request: V3Request, credentials: V3Credentials = credentials) throws -> V3Answer {
        let signed = try SignedV3Request(
            request, credentials: credentials, timestamp: Int64(Self.now), nonce: "593BEC0C930BF1AFEB40B4A08C8FB242")
        let answer = fake.handleV3(
            method: request.method, uri: request.canonicalURL, authorization: signed.authorization, body: request.body)
        guard case .respondV3(let status, let headers, let body) = answer.action else {
            Issue.record("no v3 answer")
            return V3Answer(status: 0, timestamp: nil, nonce: nil, signature: nil, serial: nil, body: [])
        }
        return V3Answer(status: status, body: body) { headers[$0] }
    }

    func order(_ outTradeNo: String, sub: String? = nil) throws -> V3OrderReference {
        try V3OrderReference(mchID: Self.mchID, outTradeNo: outTradeNo, subMchID: sub)
    }

    @Test func aCloseOfAnUnpaidOrderAnswersASigned204AndClosesIt() throws {
        let fake = makeFake()
        fake.addOrder(mchID: Self.mchID, outTradeNo: "ORDER_0001", createdAt: Self.now - 600)
        let request = V3Request.close(try order("ORDER_0001"))
        let answer = try send(fake, request)
        #expect(answer.status == 204 && answer.body.isEmpty)
        try AnswerVerifier.verify(answer, keys: keys(fake), nowSeconds: Int64(Self.now))
        #expect(
            V3ResponseClassifier.classifyClose(answer, request: request, keys: try keys(fake), nowSeconds: Int64(Self.now)).0
                == .unconfirmed(.closed))
        #expect(fake.orderState(mchID: Self.mchID, outTradeNo: "ORDER_0001") == .closed)
        #expect(fake.calls.last?.signatureValid == true && fake.calls.last?.acted == true)
        #expect(fake.violations.isEmpty)
    }

    @Test func aQueryAnswersTheTradeStateSignedAndEchoed() throws {
        let fake = makeFake()
        fake.addOrder(mchID: Self.mchID, outTradeNo: "ORDER_PAID1", createdAt: Self.now - 600, state: .paid)
        let request = V3Request.query(try order("ORDER_PAID1"))
        let (outcome, summary) = V3ResponseClassifier.classifyQuery(
            try send(fake, request), request: request, keys: try keys(fake),
            nowSeconds: Int64(Self.now))
        #expect(outcome == .state(.success, transactionID: fake.transactionID(mchID: Self.mchID, outTradeNo: "ORDER_PAID1")))
        #expect(summary.verified)
        let unknown = V3Request.query(try order("NEVER_SEEN"))
        #expect(
            V3ResponseClassifier.classifyQuery(
                try send(fake, unknown), request: unknown, keys: try keys(fake), nowSeconds: Int64(Self.now)
            ).0 == .notExist)
    }

    @Test func aPaidOrdersCloseIsATradeErrorThatQueries() throws {
        let fake = makeFake()
        fake.addOrder(mchID: Self.mchID, outTradeNo: "ORDER_PAID2", createdAt: Self.now - 600, state: .paid)
        let request = V3Request.close(try order("ORDER_PAID2"))
        let answer = try send(fake, request)
        #expect(answer.status == 403)
        #expect(
            V3ResponseClassifier.classifyClose(answer, request: request, keys: try keys(fake), nowSeconds: Int64(Self.now)).0
                == .unknownCode("TRADE_ERROR"))
        #expect(fake.orderState(mchID: Self.mchID, outTradeNo: "ORDER_PAID2") == .paid)
    }

    @Test func aWrongKeyOrSerialGetsAnUnsigned401AndActsOnNothing() throws {
        let fake = makeFake()
        fake.addOrder(mchID: Self.mchID, outTradeNo: "ORDER_0002", createdAt: Self.now - 600)
        let request = V3Request.close(try order("ORDER_0002"))
        // Another key: the fake's own, which is not the merchant's.
        let wrongKey = try V3Credentials(mchID: Self.mchID, serialNo: Self.serial, privateKey: fake.v3Identity.key)
        let answer = try send(fake, request, credentials: wrongKey)
        #expect(answer.status == 401 && answer.signature == nil)
        let wrongSerial = try V3Credentials(mchID: Self.mchID, serialNo: "ABCDEF", privateKey: Self.merchantKey)
        #expect(try send(fake, request, credentials: wrongSerial).status == 401)
        #expect(fake.orderState(mchID: Self.mchID, outTradeNo: "ORDER_0002") == .notPay)
        #expect(fake.calls.allSatisfy { !$0.signatureValid && !$0.acted })
        let (outcome, _) = V3ResponseClassifier.classifyClose(
            answer, request: request, keys: try keys(fake), nowSeconds: Int64(Self.now))
        guard case .configurationError = outcome else {
            Issue.record("got \(outcome)")
            return
        }
    }

    @Test func theCertificatesDecryptWithTheMerchantsAPIv3KeyAndVerifyTheirOwnAnswer() throws {
        let fake = makeFake(verification: .platformCertificate)
        let answer = try send(fake, V3Request(certificatesFor: Self.mchID))
        #expect(answer.status == 200 && answer.serial == fake.v3Identity.certificateSerial)
        let certificates = try CertificateList.decode(answer.body, key: Self.apiV3Key)
        #expect(certificates.map(\.serialNo) == [fake.v3Identity.certificateSerial])
        let keys = WeChatPayKeys(certificates: certificates)
        try AnswerVerifier.verify(answer, keys: keys, nowSeconds: Int64(Self.now))
        // That merchant's close answers name the certificate too.
        fake.addOrder(mchID: Self.mchID, outTradeNo: "ORDER_0003", createdAt: Self.now - 600)
        try AnswerVerifier.verify(try send(fake, .close(try order("ORDER_0003"))), keys: keys, nowSeconds: Int64(Self.now))
        #expect(throws: V3Error.self) {
            try CertificateList.decode(answer.body, key: APIv3Key("ffffffffffffffffffffffffffffffff"))
        }
    }

    @Test(arguments: [
        (FakeFault.badResponseSignature, V3Error.Kind.verification), (.staleTimestamp, .staleTimestamp),
        (.unknownSerial, .unknownSerial),
    ])
    func answerFaultsActButCannotBeBelieved(_ fault: FakeFault, _ kind: V3Error.Kind) throws {
        let fake = makeFake()
        fake.addOrder(mchID: Self.mchID, outTradeNo: "ORDER_0004", createdAt: Self.now - 600)
        fake.script(mchID: Self.mchID, outTradeNo: "ORDER_0004", [fault])
        let answer = try send(fake, .close(try order("ORDER_0004")))
        let error = #expect(throws: V3Error.self) {
            try AnswerVerifier.verify(answer, keys: keys(fake), nowSeconds: Int64(Self.now))
        }
        #expect(error?.kind == kind)
        #expect(fake.orderState(mchID: Self.mchID, outTradeNo: "ORDER_0004") == .closed)
    }

    @Test func scriptedCodesComeSigned() throws {
        let fake = makeFake()
        fake.addOrder(mchID: Self.mchID, outTradeNo: "ORDER_0005", createdAt: Self.now - 600)
        fake.script(mchID: Self.mchID, outTradeNo: "ORDER_0005", [.systemError, .orderClosed, .orderNotExist])
        let request = V3Request.close(try order("ORDER_0005"))
        let outcomes = try (0..<3).map { _ in
            V3ResponseClassifier.classifyClose(
                try send(fake, request), request: request, keys: try keys(fake), nowSeconds: Int64(Self.now)
            ).0
        }
        #expect(outcomes == [.retryable(.systemError), .unconfirmed(.alreadyClosed), .unconfirmed(.notExist)])
        #expect(fake.orderState(mchID: Self.mchID, outTradeNo: "ORDER_0005") == .notPay)
    }

    @Test func thePartnerAPIIsForServiceProvidersOnly() throws {
        let ordinary = makeFake()
        let request = V3Request.close(try order("ORDER_0006", sub: "1900000110"))
        let refused = try send(ordinary, request)
        #expect(refused.status == 403)
        let provider = makeFake(serviceProvider: true)
        provider.addOrder(mchID: Self.mchID, outTradeNo: "ORDER_0006", createdAt: Self.now - 600)
        #expect(try send(provider, request).status == 204)
        let query = V3Request.query(try order("ORDER_0006", sub: "1900000110"))
        let (outcome, _) = V3ResponseClassifier.classifyQuery(
            try send(provider, query), request: query, keys: try keys(provider), nowSeconds: Int64(Self.now))
        #expect(outcome == .state(.closed, transactionID: nil))
    }

    @Test func anEarlyCloseIsAViolation() throws {
        let fake = makeFake()
        fake.addOrder(mchID: Self.mchID, outTradeNo: "YOUNG_01", createdAt: Self.now - 10)
        _ = try send(fake, .close(try order("YOUNG_01")))
        #expect(fake.violations.count == 1)
    }
}
