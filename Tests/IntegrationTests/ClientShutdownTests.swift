import AsyncHTTPClient
import FakeWeChatPay
import Logging
import NIOCore
import OrderClosing
import OrderClosingTestSupport
import Testing
import WeChatPayHTTP
import WeChatPayV2

/// `check-config --online`, the daemon and the demo all shut the client down right after their
/// last answer. With the client on the whole singleton group, AsyncHTTPClient 1.37.0 could hand
/// us an answer on one event loop while the connection, on the other, had not yet been given back
/// to the pool; a shutdown in that gap made the pool trap ("A connection that we don't know was
/// released?"), seen as a SIGILL of `check-config --online` under load. See
/// `WeChatPayTransport.makeClient`.
@Suite struct ClientShutdownTests {
    /// The condition the fix rests on: one loop, so a request's delegate and its connection share it.
    @Test func theClientRunsOnOneEventLoop() throws {
        let client = try WeChatPayHTTPGateway.makeClient(settings: GatewaySettings())
        defer { try? client.syncShutdown() }
        let loops = Array(client.eventLoopGroup.makeIterator())
        #expect(loops.count == 1, "a request's delegate and its connection could run on different loops: \(loops.count) loops")
    }

    /// The crashing path itself, many times: two POSTs (the second one, before the fix, usually
    /// taken on the other loop than its reused connection), then shutdown at once. Before the fix
    /// this trapped now and then (more often on a loaded machine); with it, every round ends with
    /// both answers and a clean shutdown. A trap ends the test process, so it cannot pass silently.
    @Test func shutdownRightAfterTheLastAnswerIsClean() async throws {
        let fake = FakeWeChatPay(
            merchants: [FakeMerchant(mchID: FakeFixture.mchID, key: FakeFixture.key, appIDs: [FakeFixture.appID])],
            unknownOrders: .notExist, now: { Double(FakeFixture.epoch) / 1000 })
        let server = FakeWeChatPayServer(fake: fake)
        try await server.start()
        var settings = GatewaySettings()
        settings.primaryURL = server.baseURL
        settings.totalTimeoutMs = 30_000
        settings.connectTimeoutMs = 10_000
        let credentials = MerchantCredentials(mchID: FakeFixture.mchID, signType: .hmacSHA256, key: FakeFixture.key)
        let order = try OrderReference(appID: FakeFixture.appID, mchID: FakeFixture.mchID, outTradeNo: "CHECK-SHUTDOWN")
        for round in 0..<150 {
            let client = try WeChatPayHTTPGateway.makeClient(settings: settings)
            let guarded = ClientGuard(client)
            let gateway = WeChatPayHTTPGateway(
                client: client, settings: settings, clock: SystemOrderClock(), logger: Logger(label: "test"))
            for _ in 0..<2 {
                let answer = await gateway.queryOrder(order, credentials: credentials)
                #expect(answer.outcome == .notExist, "round \(round): \(answer.outcome)")
            }
            guarded.markShutDown()
            try await client.shutdown()
        }
        try await server.shutdown()
    }
}
