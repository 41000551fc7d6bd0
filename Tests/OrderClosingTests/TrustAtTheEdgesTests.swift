import OrderClosing
import OrderClosingTestSupport
import Testing
import WeChatPayV2

/// Issue 10's defects at the worker's level, on a manual clock: rate limits, one order's refusal,
/// sub-merchant circuits, an unavailable merchant, and a contradiction about money.
@Suite struct TrustAtTheEdgesTests {
    typealias H = WorkerHarness
    static let key = try! APIKey("192006250b4c09247ec02edce69f6a2d")

    static func merchant(_ mchID: String, rate: Double = 100, burst: Double = 100) -> MerchantProfile {
        MerchantProfile(
            merchant: ScriptedMerchant(mchID), appIDs: [H.appID],
            ratePerSecond: rate, burst: burst)
    }

    @Test func aRateLimitClaimsOnlyWhatCanStartSoEachOrderIsSentOnce() async throws {
        var settings = ClosingSettings()
        settings.concurrency = 8
        settings.batchSize = 16
        settings.leaseMs = 3_000
        settings.owner = "worker-test"
        let h = try WorkerHarness(settings: settings, merchants: [Self.merchant(H.mchA, rate: 1, burst: 1)])
        defer { h.database.remove() }
        let names = (0..<5).map { "RATE-\($0)" }
        for name in names { try h.database.insert(name, createdAt: H.created) }
        let task = Task { try await h.service.run() }
        await h.settle(recorded: 0)

        // One token a second: one order is claimed (and leased) each second, never more.
        for second in 0..<5 {
            let at = H.dueMs() + Int64(second) * 1_000
            await h.advance(to: at, thenRecorded: second + 1)
            #expect(h.gateway.calls.count == second + 1)
            #expect(h.gateway.calls.last?.at == at)
            let leased = h.database.count(status: .closing)
            #expect(leased == 0, "orders were leased while waiting for a rate token")
        }
        for name in names {
            #expect(h.callTimes(name).count == 1, "\(name) was sent \(h.callTimes(name).count) times")
            #expect(try h.database.stored(name)?.status == .closed)
        }
        task.cancel()
        _ = await task.result
    }

    @Test func oneOrdersRefusalNeverPausesItsMerchant() async throws {
        var retry = RetryPolicy()
        retry.maxAttempts = 3
        let h = try WorkerHarness(retry: retry)
        defer { h.database.remove() }
        try h.database.insert("BAD", createdAt: H.created, mchID: H.mchA)
        for second in 1...3 { try h.database.insert("GOOD-\(second)", createdAt: H.created + Int64(second), mchID: H.mchA) }
        h.gateway.scriptClose("BAD", Array(repeating: .answer(.orderRejected("return_code FAIL: 普通商户不允许传sub_mch_id")), count: 3))
        let task = Task { try await h.service.run() }
        await h.settle(recorded: 0)

        await h.advance(to: H.dueMs(), thenRecorded: 1)
        for second in 1...3 {
            let due = H.dueMs(H.created + Int64(second))
            await h.advance(to: due, thenRecorded: 1 + second)
            #expect(h.callTimes("GOOD-\(second)") == [due], "a healthy order of the merchant waited")
        }
        // The refused order backs off on its own schedule (5 s, 10 s) and then fails with the reason.
        await h.advance(to: H.dueMs() + 5_000, thenRecorded: 5)
        await h.advance(to: H.dueMs() + 15_000, thenRecorded: 6)
        #expect(h.callTimes("BAD") == [H.dueMs(), H.dueMs() + 5_000, H.dueMs() + 15_000])
        let bad = try #require(try h.database.stored("BAD"))
        #expect(bad.status == .failed && bad.attempts == 3)
        #expect(bad.lastError?.contains("普通商户不允许传sub_mch_id") == true)
        task.cancel()
        _ = await task.result
    }

    @Test func aSubMerchantsSetupFaultPausesOnlyThatSubMerchant() async throws {
        let h = try WorkerHarness()
        defer { h.database.remove() }
        try h.database.insert("S1-A", createdAt: H.created, mchID: H.mchA, subMchID: "1230000001")
        try h.database.insert("S1-B", createdAt: H.created + 1, mchID: H.mchA, subMchID: "1230000001")
        try h.database.insert("S2-A", createdAt: H.created + 1, mchID: H.mchA, subMchID: "1230000002")
        h.gateway.scriptClose("S1-A", [.answer(.configurationError("APPID_MCHID_NOT_MATCH"))])
        let task = Task { try await h.service.run() }
        await h.settle(recorded: 0)

        await h.advance(to: H.dueMs(), thenRecorded: 1)
        await h.advance(to: H.dueMs(H.created + 1), thenRecorded: 2)
        #expect(h.callTimes("S2-A") == [H.dueMs(H.created + 1)])
        #expect(h.callTimes("S1-B").isEmpty, "the paused sub-merchant's order was sent")
        #expect(try h.database.published("circuit:\(H.mchA)/1230000001").map { PublishedCircuit(published: $0).state } == .open)
        #expect(try h.database.published("circuit:\(H.mchA)") == nil)
        task.cancel()
        _ = await task.result
    }

    @Test func anUnavailableMerchantWaitsWhileTheOthersAreServed() async throws {
        let h = try WorkerHarness(
            merchants: [Self.merchant(H.mchB)], unavailable: [H.mchA: "key file /etc/closeorderd/keys/a.key is missing"])
        defer { h.database.remove() }
        try h.database.insert("A1", createdAt: H.created, mchID: H.mchA)
        try h.database.insert("B1", createdAt: H.created, mchID: H.mchB)
        let task = Task { try await h.service.run() }
        await h.settle(recorded: 0)
        await h.advance(to: H.dueMs(), thenRecorded: 1)
        #expect(h.callTimes("B1") == [H.dueMs()])
        #expect(h.callTimes("A1").isEmpty)
        let waiting = try #require(try h.database.stored("A1"))
        #expect(waiting.status == .pending && waiting.attempts == 0)
        #expect(
            try h.database.published("circuit:\(H.mchA)")?.contains("key file /etc/closeorderd/keys/a.key is missing") == true)
        task.cancel()
        _ = await task.result
    }

    @Test func aSignedOrderPaidContradictedByTheQueryIsFlaggedNotClosed() async throws {
        let h = try WorkerHarness()
        defer { h.database.remove() }
        try h.database.insert("TWO-STORIES", createdAt: H.created)
        h.gateway.scriptClose("TWO-STORIES", [.answer(.paid, errCode: "ORDERPAID")])
        h.gateway.scriptQuery("TWO-STORIES", [.state(.closed, transactionID: nil)])
        let task = Task { try await h.service.run() }
        await h.settle(recorded: 0)
        await h.advance(to: H.dueMs(), thenRecorded: 1)
        let row = try #require(try h.database.stored("TWO-STORIES"))
        #expect(row.status == .failed)
        #expect(row.outcome == nil)
        #expect(row.conflict?.contains("ORDERPAID") == true && row.conflict?.contains("CLOSED") == true)
        task.cancel()
        _ = await task.result
    }
}

@Suite struct OperatorPauseTests {
    typealias H = WorkerHarness

    @Test func aMerchantPausedByAnOperatorWaitsUntilResumed() async throws {
        var settings = ClosingSettings.sequential
        settings.pollIntervalMs = 1_000
        let h = try WorkerHarness(settings: settings)
        defer { h.database.remove() }
        try await h.database.store.publish("pause:\(H.mchA)", "maintenance", now: 0)
        try h.database.insert("A1", createdAt: H.created, mchID: H.mchA)
        try h.database.insert("B1", createdAt: H.created, mchID: H.mchB)
        let task = Task { try await h.service.run() }
        await h.settle(recorded: 0)
        await h.advance(to: H.dueMs(), thenRecorded: 1)
        #expect(h.callTimes("B1") == [H.dueMs()])
        #expect(h.callTimes("A1").isEmpty, "a paused merchant's order was sent")
        #expect(try await h.database.resume(mchID: H.mchA), "the pause was not there to lift")
        // Pauses are read once per poll interval.
        await h.advance(to: H.dueMs() + 1_000, thenRecorded: 2)
        #expect(h.callTimes("A1") == [H.dueMs() + 1_000])
        task.cancel()
        _ = await task.result
    }
}
