import AsyncHTTPClient
import Logging
import NIOConcurrencyHelpers
import OrderClosing
import OrderClosingTestSupport
import Testing
import WeChatPayHTTP

/// A third API, test-only: its own merchant handle (its own credential type) and its own adapter.
/// Adding it to the daemon's router is one entry in `RoutingGateway(adapters:)`; the domain
/// (`OrderCloser`, `MerchantProfile`, the outcomes) does not change.
extension MerchantAPI {
    static let test = MerchantAPI(rawValue: "test")
}

/// The test API's merchant: a token instead of a v2 key or v3 private key. Its id rule: an
/// `out_trade_no` does not start with "X".
struct TestAPIMerchant: MerchantHandle, Hashable {
    let mchID: String
    let token: String
    var api: MerchantAPI { .test }

    func refusal(of order: OrderKey) -> String? {
        order.outTradeNo.hasPrefix("X") ? "out_trade_no \"\(order.outTradeNo)\" starts with X" : nil
    }

    func sameCredentials(as other: any MerchantHandle) -> Bool { (other as? TestAPIMerchant) == self }
}

/// The test API's adapter: answers every close with a verified "closed" and every query with
/// "no such order", and records what it was asked and with which token.
final class TestAPIGateway: WeChatPayGateway {
    let asked = NIOLockedValueBox<[String]>([])

    func closeOrder(_ order: OrderKey, merchant: any MerchantHandle) async -> GatewayResponse<CloseOutcome> {
        guard let merchant = merchant as? TestAPIMerchant else {
            return GatewayResponse(
                outcome: .orderRejected("not a test-API merchant"), summary: ResponseSummary(), endpoint: nil, delivered: false)
        }
        asked.withLockedValue { $0.append("close \(order.outTradeNo) with \(merchant.token)") }
        return GatewayResponse(
            outcome: .closed, summary: ResponseSummary(httpStatus: 200, verified: true), endpoint: "test://api")
    }

    func queryOrder(_ order: OrderKey, merchant: any MerchantHandle) async -> GatewayResponse<QueryOutcome> {
        guard let merchant = merchant as? TestAPIMerchant else {
            return GatewayResponse(
                outcome: .orderRejected("not a test-API merchant"), summary: ResponseSummary(), endpoint: nil, delivered: false)
        }
        asked.withLockedValue { $0.append("query \(order.outTradeNo) with \(merchant.token)") }
        return GatewayResponse(
            outcome: .notExist, summary: ResponseSummary(httpStatus: 200, verified: true), endpoint: "test://api")
    }
}

@Suite struct ThirdAPIAdapterTests {
    static let mchID = "1900000900", appID = "wxthirdapi"

    /// The daemon's router (v2 and v3 on one transport) plus the test API: one more entry.
    static func router(_ test: TestAPIGateway, transport: WeChatPayTransport) -> RoutingGateway {
        RoutingGateway(adapters: [
            .v2: WeChatPayHTTPGateway(transport: transport),
            .v3: WeChatPayV3HTTPGateway(transport: transport),
            .test: test,
        ])
    }

    static func claim(_ outTradeNo: String, now: Int64) -> ClaimedOrder {
        ClaimedOrder(
            id: 1, mchID: mchID, appID: appID, outTradeNo: outTradeNo, subMchID: nil, subAppID: nil,
            createdAt: now / 1000 - 600, timeoutSeconds: 0, attempt: 1, inDoubt: false, firstAttemptAt: now, leaseToken: "lease")
    }

    @Test func aThirdAPIClosesOrdersAndProbesThroughTheRouterWithItsOwnCredentials() async throws {
        var settings = GatewaySettings()
        settings.primaryURL = "http://127.0.0.1:9"  // v2 and v3 are never asked
        settings.backupURL = nil
        let clock = ManualClock(now: 1_700_000_000_000)
        let client = try WeChatPayTransport.makeClient(settings: settings)
        let transport = WeChatPayTransport(client: client, settings: settings, clock: clock, logger: Logger(label: "test"))
        let test = TestAPIGateway()
        var quiet = Logger(label: "closer")
        quiet.logLevel = .critical
        let merchant = TestAPIMerchant(mchID: Self.mchID, token: "token-1")
        let closer = OrderCloser(
            gateway: Self.router(test, transport: transport), clock: clock,
            merchants: [MerchantProfile(merchant: merchant, appIDs: [Self.appID])],
            retry: RetryPolicy(), logger: quiet, jitter: { 0.5 })

        let closed = await closer.process(Self.claim("T-ORDER-1", now: clock.now()))
        guard case .finish(.closed, _, _, _) = closed.write.change else {
            Issue.record("got \(closed.write.change)")
            return
        }
        #expect(closed.write.attempts.map(\.outcome) == [.closed])

        // Its own id rule refuses a row before anything is sent, naming the API.
        let refused = await closer.process(Self.claim("X-ORDER-2", now: clock.now()))
        guard case .finish(.failed, _, _, let reason) = refused.write.change else {
            Issue.record("got \(refused.write.change)")
            return
        }
        #expect(
            reason?.contains("cannot be sent on API test: out_trade_no \"X-ORDER-2\" starts with X") == true, "\(reason ?? "")")

        // The merchant probe is the adapter's order query for a made-up order.
        let verdict = await closer.probe(MerchantProbe(key: CircuitKey(mchID: Self.mchID, subMchID: nil), appID: Self.appID))
        guard case .proven = verdict else {
            Issue.record("got \(verdict)")
            return
        }

        let asked = test.asked.withLockedValue { $0 }
        #expect(
            asked.count == 2 && asked[0] == "close T-ORDER-1 with token-1" && asked[1].hasPrefix("query CHECK")
                && asked[1].hasSuffix("with token-1"),
            "\(asked)")
        try await client.shutdown()
    }

    @Test func aMerchantWhoseAPINoAdapterServesIsRefusedWithoutSending() async throws {
        let router = RoutingGateway(adapters: [.v2: TestAPIGateway()])
        let response = await router.closeOrder(
            OrderKey(appID: Self.appID, mchID: Self.mchID, outTradeNo: "T-1"),
            merchant: TestAPIMerchant(mchID: Self.mchID, token: "t"))
        #expect(response.outcome == .configurationError("no gateway serves API test (mch_id 1900000900)"))
        #expect(!response.delivered)
    }
}
