import FakeWeChatPay
import OrderClosing
import OrderClosingTestSupport
import Testing
import WeChatPayHTTP
import WeChatPayV2

/// The HTTP gateway against the fake over real loopback HTTP: each fault gives its typed outcome.
@Suite struct GatewayAgainstFakeTests {
    @Test(arguments: SignType.allCases) func closesAnUnpaidOrder(_ signType: SignType) async throws {
        let fixture = try await FakeFixture.start()
        let order = try fixture.placeOrder("CLOSE-\(signType == .md5 ? "MD5" : "HMAC")")
        let response = await fixture.gateway.closeOrder(order, credentials: fixture.credentials(signType))
        #expect(response.outcome == .closed)
        #expect(response.endpoint == fixture.primary.baseURL)
        #expect(fixture.fake.orderState(mchID: FakeFixture.mchID, outTradeNo: order.outTradeNo) == .closed)
        #expect(fixture.fake.calls.allSatisfy { $0.signatureValid })
        #expect(fixture.fake.violations.isEmpty)
        try await fixture.shutdown()
    }

    static let faults: [(FakeFault, String)] = [
        (.systemError, "retry (SYSTEMERROR)"),
        (.http500, "retry (HTTP 500)"),
        (.http503, "retry (HTTP 503)"),
        (.orderClosed, "already_closed"),
        (.orderNotExist, "not_exist"),
        (.paramError, "order rejected (return_code FAIL: 参数格式校验错误)"),
    ]

    @Test(arguments: faults) func scriptedFaultsGiveTheirOutcome(_ row: (FakeFault, String)) async throws {
        let fixture = try await FakeFixture.start()
        let order = try fixture.placeOrder("FAULT-1")
        fixture.fake.script(mchID: FakeFixture.mchID, outTradeNo: order.outTradeNo, [row.0])
        let response = await fixture.gateway.closeOrder(order, credentials: fixture.credentials())
        #expect(response.outcome.description == row.1)
        try await fixture.shutdown()
    }

    @Test func malformedBodyIsUnparseable() async throws {
        let fixture = try await FakeFixture.start()
        let order = try fixture.placeOrder("MALFORMED-1")
        fixture.fake.script(mchID: FakeFixture.mchID, outTradeNo: order.outTradeNo, [.malformedBody])
        let response = await fixture.gateway.closeOrder(order, credentials: fixture.credentials())
        guard case .retryable(.unparseable) = response.outcome else {
            Issue.record("got \(response.outcome)")
            return
        }
        try await fixture.shutdown()
    }

    @Test(arguments: [FakeFault.badResponseSignature, .forgedOrderPaid, .forgedSuccess])
    func forgedOrBadlySignedAnswersAreNotBelieved(_ fault: FakeFault) async throws {
        let fixture = try await FakeFixture.start()
        let order = try fixture.placeOrder("FORGED-1")
        fixture.fake.script(mchID: FakeFixture.mchID, outTradeNo: order.outTradeNo, [fault])
        let response = await fixture.gateway.closeOrder(order, credentials: fixture.credentials())
        guard case .retryable(.badSignature) = response.outcome else {
            Issue.record("believed: \(response.outcome)")
            return
        }
        #expect(!response.summary.verified)
        try await fixture.shutdown()
    }

    @Test func connectionResetIsAConnectionError() async throws {
        let fixture = try await FakeFixture.start()
        let order = try fixture.placeOrder("RESET-1")
        fixture.fake.script(mchID: FakeFixture.mchID, outTradeNo: order.outTradeNo, [.connectionReset])
        let response = await fixture.gateway.closeOrder(order, credentials: fixture.credentials())
        guard case .retryable(.connection) = response.outcome else {
            Issue.record("got \(response.outcome)")
            return
        }
        #expect(response.delivered)
        try await fixture.shutdown()
    }

    /// Deterministic (issue 11): the fake holds a slow answer for 30 s, so only the gateway's own
    /// deadline can end the call; the connection is opened by a first call, so the request is
    /// written at once; and the test waits for the fake to have the request instead of assuming it
    /// arrived in time. The time limit turns a regression into a failure, not a hung run.
    @Test(.timeLimit(.minutes(1))) func slowAnswerTimesOutAfterSending() async throws {
        let fixture = try await FakeFixture.start(totalTimeoutMs: 1_000)
        try await fixture.warmUp()
        let warmUpCalls = fixture.fake.calls.count
        let order = try fixture.placeOrder("SLOW-1")
        fixture.fake.script(mchID: FakeFixture.mchID, outTradeNo: order.outTradeNo, [.slowAnswer])
        let response = await fixture.gateway.closeOrder(order, credentials: fixture.credentials())
        #expect(response.outcome == .retryable(.timeout(afterSending: true)))
        #expect(response.delivered)
        #expect(!response.summary.verified)
        // The slow server still acted: this is why a timeout leaves the order in doubt.
        await fixture.fake.waitForCalls(warmUpCalls + 1)
        #expect(fixture.fake.orderState(mchID: FakeFixture.mchID, outTradeNo: order.outTradeNo) == .closed)
        try await fixture.shutdown()
    }

    /// Issue 10, defect 7: a call that may have been delivered is not POSTed again to the backup in
    /// the same call (one POST, one audit row); the primary is still marked down for later calls.
    @Test(.timeLimit(.minutes(1))) func aTimeoutAfterSendingIsNotPostedAgainToTheBackup() async throws {
        let fixture = try await FakeFixture.start(totalTimeoutMs: 1_000, withBackup: true)
        try await fixture.warmUp()
        let before = fixture.fake.calls.count
        let order = try fixture.placeOrder("SLOW-FO-1")
        // The primary answers slower than the total timeout; the backup would answer at once.
        fixture.fake.script(mchID: FakeFixture.mchID, outTradeNo: order.outTradeNo, [.slowAnswer])
        let response = await fixture.gateway.closeOrder(order, credentials: fixture.credentials())
        #expect(response.outcome == .retryable(.timeout(afterSending: true)))
        #expect(response.delivered)
        #expect(response.endpoint == fixture.primary.baseURL)
        await fixture.fake.waitForCalls(before + 1)
        let posts = fixture.fake.calls.dropFirst(before)
        #expect(posts.count == 1, "POSTs for one call: \(posts.map(\.answer))")
        // Later calls go to the backup at once.
        #expect(fixture.gateway.currentEndpoint == fixture.backup.baseURL)
        let next = await fixture.gateway.closeOrder(try fixture.placeOrder("SLOW-FO-2"), credentials: fixture.credentials())
        #expect(next.outcome == .closed)
        #expect(next.endpoint == fixture.backup.baseURL)
        try await fixture.shutdown()
    }

    @Test func paidOrderAnswersOrderPaidAndQueryGivesTheTransaction() async throws {
        let fixture = try await FakeFixture.start()
        let order = try fixture.placeOrder("PAID-1", state: .paid)
        let close = await fixture.gateway.closeOrder(order, credentials: fixture.credentials())
        #expect(close.outcome == .paid)
        #expect(close.summary.verified)
        let query = await fixture.gateway.queryOrder(order, credentials: fixture.credentials())
        #expect(query.summary.verified)
        let transactionID = fixture.fake.transactionID(mchID: FakeFixture.mchID, outTradeNo: order.outTradeNo)
        #expect(transactionID != nil)
        #expect(query.outcome == .state(.success, transactionID: transactionID))
        try await fixture.shutdown()
    }

    @Test func wrongKeyIsAConfigurationError() async throws {
        let fixture = try await FakeFixture.start()
        let order = try fixture.placeOrder("WRONGKEY-1")
        let response = await fixture.gateway.closeOrder(
            order, credentials: fixture.credentials(key: try APIKey("00000000000000000000000000000000")))
        guard case .configurationError(let reason) = response.outcome else {
            Issue.record("got \(response.outcome)")
            return
        }
        #expect(reason.kind == .signature && reason.reason.contains("签名错误"))
        #expect(fixture.fake.calls.last?.signatureValid == false)
        #expect(fixture.fake.orderState(mchID: FakeFixture.mchID, outTradeNo: order.outTradeNo) == .notPay)
        try await fixture.shutdown()
    }

    @Test func unknownOrderIsNotExist() async throws {
        let fixture = try await FakeFixture.start()
        let order = try OrderReference(appID: FakeFixture.appID, mchID: FakeFixture.mchID, outTradeNo: "NEVER-PLACED")
        #expect(await fixture.gateway.closeOrder(order, credentials: fixture.credentials()).outcome == .notExist)
        try await fixture.shutdown()
    }

    @Test func primaryOutageFailsOverToTheBackupAndComesBack() async throws {
        let fixture = try await FakeFixture.start(withBackup: true)
        let credentials = fixture.credentials()

        try await fixture.primary.setOutage(true)
        let first = await fixture.gateway.closeOrder(try fixture.placeOrder("FO-1"), credentials: credentials)
        #expect(first.outcome == .closed)
        #expect(first.endpoint == fixture.backup.baseURL)

        // Before the probe interval the backup is used without touching the primary.
        let second = await fixture.gateway.closeOrder(try fixture.placeOrder("FO-2"), credentials: credentials)
        #expect(second.endpoint == fixture.backup.baseURL)

        try await fixture.primary.setOutage(false)
        fixture.clock.advance(by: 30_000)
        let third = await fixture.gateway.closeOrder(try fixture.placeOrder("FO-3"), credentials: credentials)
        #expect(third.outcome == .closed)
        #expect(third.endpoint == fixture.primary.baseURL)
        #expect(fixture.gateway.currentEndpoint == fixture.primary.baseURL)
        try await fixture.shutdown()
    }

    @Test func totalOutageIsNotDelivered() async throws {
        let fixture = try await FakeFixture.start(withBackup: true)
        try await fixture.primary.setOutage(true)
        try await fixture.backup.setOutage(true)
        let response = await fixture.gateway.closeOrder(try fixture.placeOrder("DOWN-1"), credentials: fixture.credentials())
        guard case .retryable(.connection) = response.outcome else {
            Issue.record("got \(response.outcome)")
            return
        }
        #expect(!response.delivered)
        try await fixture.shutdown()
    }
}
