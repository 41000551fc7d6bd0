import FakeWeChatPay
import Logging
import OrderClosing
import OrderClosingTestSupport
import Testing
import WeChatPayHTTP
import WeChatPayV2
import WeChatPayV3

/// The v2 and v3 gateways on one `WeChatPayTransport`, as the daemon wires them, against the fake
/// over real loopback HTTP: one failover state for both APIs, and v3's "no second request after a
/// timeout that may have sent it" (the v2 twin is in GatewayAgainstFakeTests).
@Suite(.serialized) struct SharedTransportTests {
    static let v3MchID = "1900000201"
    static let serial = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"

    struct World {
        let base: FakeFixture
        let router: RoutingGateway
        let v3: WeChatPayV3HTTPGateway
        let v3Merchant: V3Merchant

        func placeV3Order(_ outTradeNo: String) throws -> OrderKey {
            base.fake.addOrder(
                mchID: SharedTransportTests.v3MchID, outTradeNo: outTradeNo,
                createdAt: Double(base.clock.now()) / 1000 - 600, state: .notPay)
            return try OrderReference(appID: FakeFixture.appID, mchID: SharedTransportTests.v3MchID, outTradeNo: outTradeNo).key
        }
    }

    /// The fixture's v2 gateway, and a v3 gateway on the same transport (public-key mode).
    static func start(totalTimeoutMs: Int64 = 30_000) async throws -> World {
        let base = try await FakeFixture.start(totalTimeoutMs: totalTimeoutMs, withBackup: true)
        base.fake.addV3Merchant(FakeV3Merchant(mchID: v3MchID, serialNo: serial, publicKey: FakeV3Keys.merchant.publicKey))
        let identity = base.fake.v3Identity
        let keys = try WeChatPayKeys(publicKeyID: identity.publicKeyID, key: RSAPublicKey(pem: identity.publicKeyPEM))
        let v3 = WeChatPayV3HTTPGateway(transport: base.gateway.transport)
        let merchant = V3Merchant(
            credentials: try V3Credentials(mchID: v3MchID, serialNo: serial, privateKey: FakeV3Keys.merchant),
            verification: .publicKey(keys))
        let router = RoutingGateway(adapters: [.v2: base.gateway, .v3: v3])
        return World(base: base, router: router, v3: v3, v3Merchant: merchant)
    }

    /// A v2 call finds the primary down; the primary comes back before the probe is due. The next
    /// v3 call still goes to the backup: it shares the state the v2 call changed (with a state of
    /// its own it would have gone to the primary, which answers again).
    @Test func anOutageSeenByV2SendsV3ToTheBackup() async throws {
        let world = try await Self.start()
        try await world.base.primary.setOutage(true)
        let v2 = await world.router.closeOrder(
            try world.base.placeOrder("SHARED-V2-1").key, merchant: V2Merchant(credentials: world.base.credentials()))
        #expect(v2.outcome == .closed)
        #expect(v2.endpoint == world.base.backup.baseURL)
        try await world.base.primary.setOutage(false)

        let v3 = await world.router.closeOrder(try world.placeV3Order("SHARED_V3_1"), merchant: world.v3Merchant)
        #expect(v3.outcome == .unconfirmed(.closed))
        #expect(v3.endpoint == world.base.backup.baseURL)
        #expect(world.v3.transport.currentEndpoint == world.base.backup.baseURL)

        // Once the probe is due, a v3 call finds the primary again, and v2 follows.
        world.base.clock.advance(by: 30_000)
        let probe = await world.router.queryOrder(try world.placeV3Order("SHARED_V3_2"), merchant: world.v3Merchant)
        #expect(probe.endpoint == world.base.primary.baseURL)
        #expect(world.base.gateway.currentEndpoint == world.base.primary.baseURL)
        let after = await world.router.closeOrder(
            try world.base.placeOrder("SHARED-V2-2").key, merchant: V2Merchant(credentials: world.base.credentials()))
        #expect(after.endpoint == world.base.primary.baseURL)
        try await world.base.shutdown()
    }

    /// Issue 10, defect 7, for v3: a close that may have been delivered is not sent again to the
    /// backup in the same call (one request, one audit row); later calls of both APIs use the backup.
    /// Deterministic as the v2 twin: the fake holds the answer for 30 s, the connection is opened
    /// first, and the test waits for the fake to have the request.
    @Test(.timeLimit(.minutes(1))) func aV3TimeoutAfterSendingIsNotSentAgainToTheBackup() async throws {
        let world = try await Self.start(totalTimeoutMs: 1_000)
        try await world.base.warmUp()
        let before = world.base.fake.calls.count
        let order = try world.placeV3Order("V3_SLOW_FO_1")
        world.base.fake.script(mchID: Self.v3MchID, outTradeNo: order.outTradeNo, [.slowAnswer])
        let response = await world.router.closeOrder(order, merchant: world.v3Merchant)
        #expect(response.outcome == .retryable(.timeout(afterSending: true)))
        #expect(response.delivered)
        #expect(!response.summary.verified)
        #expect(response.endpoint == world.base.primary.baseURL)
        await world.base.fake.waitForCalls(before + 1)
        let sent = world.base.fake.calls.dropFirst(before)
        #expect(sent.count == 1, "requests for one call: \(sent.map(\.path))")

        #expect(world.base.gateway.currentEndpoint == world.base.backup.baseURL)
        let v3 = await world.router.closeOrder(try world.placeV3Order("V3_SLOW_FO_2"), merchant: world.v3Merchant)
        #expect(v3.outcome == .unconfirmed(.closed))
        #expect(v3.endpoint == world.base.backup.baseURL)
        let v2 = await world.router.closeOrder(
            try world.base.placeOrder("V2_SLOW_FO_3").key, merchant: V2Merchant(credentials: world.base.credentials()))
        #expect(v2.outcome == .closed)
        #expect(v2.endpoint == world.base.backup.baseURL)
        try await world.base.shutdown()
    }
}
