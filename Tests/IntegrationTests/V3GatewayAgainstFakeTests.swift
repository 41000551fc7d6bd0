import AsyncHTTPClient
import FakeWeChatPay
import Logging
import OrderClosing
import OrderClosingTestSupport
import Testing
import WeChatPayHTTP
import WeChatPayV2
import WeChatPayV3

/// The v3 gateway, through the routing gateway, against the fake over real loopback HTTP: both key
/// modes, every v3 fault class, failover, and v2 beside it on the same fake. Serialized: twenty
/// fixtures (forty servers) at once added enough load to starve timing-sensitive suites.
@Suite(.serialized) struct V3GatewayAgainstFakeTests {
    static let v3MchID = "1900000200"
    static let serial = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
    static let merchantKey = FakeV3Keys.merchant
    static let apiV3Key = try! APIv3Key("0123456789abcdef0123456789abcdef")

    struct World {
        let base: FakeFixture
        let router: RoutingGateway
        let v3Merchant: V3Merchant

        func placeV3Order(_ outTradeNo: String, state: FakeOrderState = .notPay) throws -> OrderKey {
            base.fake.addOrder(
                mchID: V3GatewayAgainstFakeTests.v3MchID, outTradeNo: outTradeNo,
                createdAt: Double(base.clock.now()) / 1000 - 600, state: state)
            return try OrderReference(appID: FakeFixture.appID, mchID: V3GatewayAgainstFakeTests.v3MchID, outTradeNo: outTradeNo)
                .key
        }
    }

    static func start(mode: FakeV3Merchant.Verification = .publicKey, withBackup: Bool = false) async throws -> World {
        let base = try await FakeFixture.start(withBackup: withBackup)
        base.fake.addV3Merchant(
            FakeV3Merchant(
                mchID: v3MchID, serialNo: serial, publicKey: merchantKey.publicKey,
                verification: mode, apiV3Key: apiV3Key))
        let identity = base.fake.v3Identity
        let verification: V3Merchant.Verification =
            switch mode {
            case .publicKey:
                .publicKey(try WeChatPayKeys(publicKeyID: identity.publicKeyID, key: RSAPublicKey(pem: identity.publicKeyPEM)))
            case .platformCertificate:
                .platformCertificates(apiV3Key, PlatformCertificateCache())
            }
        var settings = GatewaySettings()
        settings.primaryURL = base.primary.baseURL
        settings.backupURL = withBackup ? base.backup.baseURL : nil
        settings.totalTimeoutMs = 30_000
        let v3 = WeChatPayV3HTTPGateway(client: base.client, settings: settings, clock: base.clock, logger: Logger(label: "test"))
        let merchant = V3Merchant(
            credentials: try V3Credentials(mchID: v3MchID, serialNo: serial, privateKey: merchantKey),
            verification: verification)
        let router = RoutingGateway(adapters: [.v2: base.gateway, .v3: v3])
        return World(base: base, router: router, v3Merchant: merchant)
    }

    @Test(arguments: [FakeV3Merchant.Verification.publicKey, .platformCertificate])
    func aV3CloseIsA204ThatTheQueryConfirms(_ mode: FakeV3Merchant.Verification) async throws {
        let world = try await Self.start(mode: mode)
        let order = try world.placeV3Order("V3_CLOSE_1")
        let close = await world.router.closeOrder(order, merchant: world.v3Merchant)
        #expect(close.outcome == .unconfirmed(.closed))
        #expect(close.summary.verified && close.summary.httpStatus == 204)
        let query = await world.router.queryOrder(order, merchant: world.v3Merchant)
        #expect(query.outcome == .state(.closed, transactionID: nil))
        #expect(world.base.fake.orderState(mchID: Self.v3MchID, outTradeNo: "V3_CLOSE_1") == .closed)
        // Certificates mode fetched /v3/certificates once, before the first call.
        let paths = world.base.fake.calls.map(\.path)
        #expect(paths.filter { $0 == "/v3/certificates" }.count == (mode == .platformCertificate ? 1 : 0))
        #expect(world.base.fake.calls.allSatisfy { $0.signatureValid })
        try await world.base.shutdown()
    }

    @Test func v2AndV3MerchantsShareTheFakeThroughOneRouter() async throws {
        let world = try await Self.start()
        let v2Order = try world.base.placeOrder("V2-ORDER-1")
        let v2 = await world.router.closeOrder(v2Order.key, merchant: V2Merchant(credentials: world.base.credentials()))
        #expect(v2.outcome == .closed)
        let v3 = await world.router.closeOrder(try world.placeV3Order("V3_ORDER_1"), merchant: world.v3Merchant)
        #expect(v3.outcome == .unconfirmed(.closed))
        #expect(world.base.fake.calls.map(\.path) == ["/pay/closeorder", "/v3/pay/transactions/out-trade-no/V3_ORDER_1/close"])
        try await world.base.shutdown()
    }

    static let faults: [(FakeFault, String)] = [
        (.systemError, "retry (SYSTEMERROR)"),
        (.http500, "retry (HTTP 500)"),
        (.http503, "retry (HTTP 503)"),
        (.orderClosed, "ORDER_CLOSED, to be confirmed by a query"),
        (.orderNotExist, "ORDER_NOT_EXIST, to be confirmed by a query"),
        (.paramError, "order rejected (PARAM_ERROR: 参数格式校验错误)"),
    ]

    @Test(arguments: faults) func scriptedFaultsGiveTheirOutcome(_ row: (FakeFault, String)) async throws {
        let world = try await Self.start()
        let order = try world.placeV3Order("V3_FAULT_1")
        world.base.fake.script(mchID: Self.v3MchID, outTradeNo: order.outTradeNo, [row.0])
        let response = await world.router.closeOrder(order, merchant: world.v3Merchant)
        #expect(response.outcome.description == row.1)
        try await world.base.shutdown()
    }

    @Test(arguments: [
        FakeFault.badResponseSignature, .staleTimestamp, .unknownSerial, .forgedOrderPaid, .forgedSuccess, .malformedBody,
    ])
    func answersThatDoNotVerifyAreNotBelieved(_ fault: FakeFault) async throws {
        let world = try await Self.start()
        let order = try world.placeV3Order("V3_FORGED_1")
        world.base.fake.script(mchID: Self.v3MchID, outTradeNo: order.outTradeNo, [fault])
        let response = await world.router.closeOrder(order, merchant: world.v3Merchant)
        guard case .retryable(.badSignature) = response.outcome else {
            Issue.record("believed: \(response.outcome)")
            return
        }
        #expect(!response.summary.verified)
        try await world.base.shutdown()
    }

    @Test func aPaidOrderIsATradeErrorAndTheQueryGivesTheTransaction() async throws {
        let world = try await Self.start()
        let order = try world.placeV3Order("V3_PAID_1", state: .paid)
        #expect(await world.router.closeOrder(order, merchant: world.v3Merchant).outcome == .unknownCode("TRADE_ERROR"))
        let query = await world.router.queryOrder(order, merchant: world.v3Merchant)
        #expect(
            query.outcome
                == .state(.success, transactionID: world.base.fake.transactionID(mchID: Self.v3MchID, outTradeNo: "V3_PAID_1")))
        try await world.base.shutdown()
    }

    @Test func aWrongPrivateKeyIsAConfigurationError() async throws {
        let world = try await Self.start()
        world.base.fake.addV3Merchant(
            FakeV3Merchant(mchID: Self.v3MchID, serialNo: Self.serial, publicKey: world.base.fake.v3Identity.key.publicKey))
        let response = await world.router.closeOrder(try world.placeV3Order("V3_WRONGKEY"), merchant: world.v3Merchant)
        guard case .configurationError(let reason) = response.outcome else {
            Issue.record("got \(response.outcome)")
            return
        }
        #expect(reason.kind == .signature && reason.reason.contains("401"))
        try await world.base.shutdown()
    }

    @Test func anOutTradeNoOutsideTheV3RuleIsRefusedWithoutSending() async throws {
        let world = try await Self.start()
        let order = try OrderReference(appID: FakeFixture.appID, mchID: Self.v3MchID, outTradeNo: "ABC|DEF@1").key
        let response = await world.router.closeOrder(order, merchant: world.v3Merchant)
        guard case .orderRejected(let reason) = response.outcome else {
            Issue.record("got \(response.outcome)")
            return
        }
        #expect(reason.contains("[0-9A-Za-z_-*]") && !response.delivered)
        #expect(world.base.fake.calls.isEmpty)
        try await world.base.shutdown()
    }

    @Test func aPrimaryOutageFailsOverToTheBackup() async throws {
        let world = try await Self.start(withBackup: true)
        try await world.base.primary.setOutage(true)
        let response = await world.router.closeOrder(try world.placeV3Order("V3_FAILOVER"), merchant: world.v3Merchant)
        #expect(response.outcome == .unconfirmed(.closed))
        #expect(response.endpoint == world.base.backup.baseURL)
        #expect(world.base.fake.calls.count == 1)
        try await world.base.shutdown()
    }

    @Test func aResetAfterSendingIsNotSentAgainToTheBackup() async throws {
        let world = try await Self.start(withBackup: true)
        let order = try world.placeV3Order("V3_RESET_1")
        world.base.fake.script(mchID: Self.v3MchID, outTradeNo: order.outTradeNo, [.connectionReset])
        let response = await world.router.closeOrder(order, merchant: world.v3Merchant)
        guard case .retryable(.connection) = response.outcome else {
            Issue.record("got \(response.outcome)")
            return
        }
        #expect(response.delivered)
        #expect(world.base.fake.calls.count == 1)
        try await world.base.shutdown()
    }
}
