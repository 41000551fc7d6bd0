import OrderClosing
import OrderClosingTestSupport
import Testing
import WeChatPayV2

/// The closing loop with an injected clock: due times, backoff, bounds, circuit, reconciliation.
@Suite struct ClosingServiceTests {
    typealias H = WorkerHarness

    @Test func closesExactlyAtTheDueTimeAndNeverBefore() async throws {
        let h = try WorkerHarness()
        defer { h.database.remove() }
        try h.database.insert("SHORT", createdAt: H.created, timeout: 60)  // the 5-minute floor applies
        try h.database.insert("ZERO", createdAt: H.created, timeout: 0)
        try h.database.insert("LONG", createdAt: H.created, timeout: 900)
        let task = Task { try await h.service.run() }

        await h.settle(recorded: 0)
        await h.advance(to: H.dueMs() - 1, thenRecorded: 0)
        #expect(h.gateway.calls.isEmpty)
        // It sleeps to the due time itself, not to the next poll tick.
        await h.clock.waitForSleepers(1)
        #expect(h.clock.nextDeadline == H.dueMs())
        await h.advance(to: H.dueMs(), thenRecorded: 2)
        #expect(h.callTimes("SHORT") == [H.dueMs()])
        #expect(h.callTimes("ZERO") == [H.dueMs()])

        await h.advance(to: H.dueMs(timeout: 900) - 1, thenRecorded: 2)
        #expect(h.callTimes("LONG").isEmpty)
        await h.clock.waitForSleepers(1)
        #expect(h.clock.nextDeadline == H.dueMs(timeout: 900))
        await h.advance(to: H.dueMs(timeout: 900), thenRecorded: 3)
        #expect(h.callTimes("LONG") == [H.dueMs(timeout: 900)])
        #expect(try h.database.row("LONG")?["status"] as String? == "closed")
        task.cancel()
        _ = await task.result
    }

    @Test func backsOffOnTheDocumentedScheduleThenFails() async throws {
        var retry = RetryPolicy()
        retry.maxAttempts = 4
        let h = try WorkerHarness(retry: retry)
        defer { h.database.remove() }
        try h.database.insert("BUSY", createdAt: H.created)
        h.gateway.scriptClose("BUSY", Array(repeating: .answer(.retryable(.systemError), errCode: "SYSTEMERROR"), count: 4))
        let task = Task { try await h.service.run() }
        await h.settle(recorded: 0)

        // Jitter is pinned to the middle, so delays are the table's base values: 5 s, 10 s, 20 s.
        var expected = [H.dueMs()]
        await h.advance(to: H.dueMs(), thenRecorded: 1)
        for (index, delay) in [Int64(5_000), 10_000, 20_000].enumerated() {
            let next = expected.last! + delay
            await h.advance(to: next - 1, thenRecorded: index + 1)
            #expect(h.callTimes("BUSY") == expected, "attempt \(index + 2) came early")
            await h.advance(to: next, thenRecorded: index + 2)
            expected.append(next)
            #expect(h.callTimes("BUSY") == expected)
        }
        let row = try #require(try h.database.row("BUSY"))
        #expect(row["status"] as String == "failed")
        #expect(row["attempts"] as Int == 4)
        #expect((row["last_error"] as String?)?.hasPrefix("gave up after 4 attempts") == true)
        #expect(try h.database.attempts("BUSY").count == 4)
        task.cancel()
        _ = await task.result
    }

    @Test func theTimeWindowBoundsRetries() async throws {
        var retry = RetryPolicy()
        retry.windowMs = 12_000
        let h = try WorkerHarness(retry: retry)
        defer { h.database.remove() }
        try h.database.insert("SLOWPOKE", createdAt: H.created)
        h.gateway.scriptClose("SLOWPOKE", Array(repeating: .answer(.retryable(.httpStatus(503))), count: 5))
        let task = Task { try await h.service.run() }
        await h.settle(recorded: 0)
        await h.advance(to: H.dueMs(), thenRecorded: 1)
        await h.advance(to: H.dueMs() + 5_000, thenRecorded: 2)
        let row = try #require(try h.database.row("SLOWPOKE"))
        #expect(row["status"] as String == "failed")
        #expect((row["last_error"] as String?)?.contains("retry window") == true)
        #expect(h.callTimes("SLOWPOKE").count == 2)
        task.cancel()
        _ = await task.result
    }

    @Test func configurationErrorsPauseOnlyThatMerchantWithoutBurningAttempts() async throws {
        let h = try WorkerHarness()
        defer { h.database.remove() }
        try h.database.insert("A1", createdAt: H.created, mchID: H.mchA)
        try h.database.insert("A2", createdAt: H.created + 1, mchID: H.mchA)
        try h.database.insert("B1", createdAt: H.created + 1, mchID: H.mchB)
        h.gateway.scriptClose("A1", [.answer(.configurationError("return_code FAIL: 签名错误，请检查后再试"))])
        let task = Task { try await h.service.run() }
        await h.settle(recorded: 0)

        await h.advance(to: H.dueMs(), thenRecorded: 1)
        let paused = try #require(try h.database.row("A1"))
        #expect(paused["status"] as String == "pending")
        #expect(paused["attempts"] as Int == 0)
        #expect((paused["last_error"] as String?)?.contains("merchant paused") == true)

        await h.advance(to: H.dueMs(H.created + 1), thenRecorded: 2)
        #expect(h.callTimes("B1") == [H.dueMs(H.created + 1)])
        #expect(h.callTimes("A2").isEmpty, "an open circuit let an order through")

        // After the pause the circuit half-opens, probes, and closes on a healthy answer.
        let reopen = H.dueMs() + MerchantCircuit.firstPauseMs
        await h.advance(to: reopen - 1, thenRecorded: 2)
        #expect(h.callTimes("A2").isEmpty)
        await h.advance(to: reopen, thenRecorded: 4)
        #expect(try h.database.row("A1")?["status"] as String? == "closed")
        #expect(try h.database.row("A2")?["status"] as String? == "closed")
        #expect(try h.database.row("A2")?["attempts"] as Int? == 1)
        task.cancel()
        _ = await task.result
    }

    @Test func orderPaidIsReconciledWithAQuery() async throws {
        let h = try WorkerHarness()
        defer { h.database.remove() }
        try h.database.insert("PAID", createdAt: H.created)
        h.gateway.scriptClose("PAID", [.answer(.paid, errCode: "ORDERPAID")])
        h.gateway.scriptQuery("PAID", [.state(.success, transactionID: "4200000000202611290000000001")])
        let task = Task { try await h.service.run() }
        await h.settle(recorded: 0)
        await h.advance(to: H.dueMs(), thenRecorded: 1)
        let row = try #require(try h.database.row("PAID"))
        #expect(row["status"] as String == "paid")
        #expect(row["outcome"] as String? == "paid")
        #expect(row["transaction_id"] as String? == "4200000000202611290000000001")
        #expect(try h.database.attempts("PAID").map { $0["operation"] as String } == ["closeorder", "orderquery"])
        task.cancel()
        _ = await task.result
    }

    @Test func unknownCodesAreQueriedNeverAssumed() async throws {
        let h = try WorkerHarness()
        defer { h.database.remove() }
        try h.database.insert("PAYING", createdAt: H.created)
        h.gateway.scriptClose("PAYING", [.answer(.unknownCode("USERPAYING"), errCode: "USERPAYING")])
        h.gateway.scriptQuery("PAYING", [.state(.userPaying, transactionID: nil)])
        let task = Task { try await h.service.run() }
        await h.settle(recorded: 0)
        await h.advance(to: H.dueMs(), thenRecorded: 1)
        #expect(try h.database.row("PAYING")?["status"] as String? == "pending")
        await h.advance(to: H.dueMs() + 5_000, thenRecorded: 2)
        #expect(try h.database.row("PAYING")?["status"] as String? == "closed")
        task.cancel()
        _ = await task.result
    }

    @Test func aTimeoutAfterSendingLeavesTheOrderInDoubtUntilReclosed() async throws {
        let h = try WorkerHarness()
        defer { h.database.remove() }
        try h.database.insert("DOUBT", createdAt: H.created)
        h.gateway.scriptClose(
            "DOUBT", [.answer(.retryable(.timeout(afterSending: true))), .answer(.alreadyClosed, errCode: "ORDERCLOSED")])
        let task = Task { try await h.service.run() }
        await h.settle(recorded: 0)
        await h.advance(to: H.dueMs(), thenRecorded: 1)
        #expect(try h.database.row("DOUBT")?["in_doubt"] as Int? == 1)
        await h.advance(to: H.dueMs() + 5_000, thenRecorded: 2)
        let row = try #require(try h.database.row("DOUBT"))
        #expect(row["status"] as String == "closed")
        #expect(row["outcome"] as String? == "already_closed")
        task.cancel()
        _ = await task.result
    }

    @Test func anOutageDoesNotBurnAttempts() async throws {
        let h = try WorkerHarness()
        defer { h.database.remove() }
        try h.database.insert("DOWN", createdAt: H.created)
        // Ten minutes of (manual-clock) outage: every try is given back, none counts.
        let tries = 20
        h.gateway.scriptClose(
            "DOWN", Array(repeating: .answer(.retryable(.connection("refused")), delivered: false), count: tries))
        let task = Task { try await h.service.run() }
        await h.settle(recorded: 0)
        for index in 0..<tries {
            await h.advance(to: H.dueMs() + Int64(index) * RetryPolicy().outageDelayMs, thenRecorded: index + 1)
            #expect(try h.database.row("DOWN")?["attempts"] as Int? == 0)
        }
        await h.advance(to: H.dueMs() + Int64(tries) * RetryPolicy().outageDelayMs, thenRecorded: tries + 1)
        #expect(try h.database.row("DOWN")?["status"] as String? == "closed")
        #expect(try h.database.row("DOWN")?["attempts"] as Int? == 1)
        task.cancel()
        _ = await task.result
    }

    @Test func rowsThatCannotBeServedFailWithAReasonAndOthersGoOn() async throws {
        let h = try WorkerHarness()
        defer { h.database.remove() }
        try h.database.insert("NOKEY", createdAt: H.created, mchID: "1234567890")
        try h.database.insert("WRONGAPP", createdAt: H.created, appID: "wxnotmine")
        try h.database.insert("FINE", createdAt: H.created)
        let task = Task { try await h.service.run() }
        await h.settle(recorded: 0)
        await h.advance(to: H.dueMs(), thenRecorded: 3)
        #expect(try h.database.row("NOKEY")?["status"] as String? == "failed")
        #expect(try h.database.row("NOKEY")?["last_error"] as String? == "no API key is configured for mch_id 1234567890")
        #expect(try h.database.row("NOKEY")?["attempts"] as Int? == 0)
        #expect(
            try h.database.row("WRONGAPP")?["last_error"] as String? == "appid wxnotmine is not configured for mch_id 1900000109")
        #expect(try h.database.row("FINE")?["status"] as String? == "closed")
        #expect(h.gateway.calls.map(\.outTradeNo) == ["FINE"])
        task.cancel()
        _ = await task.result
    }
}
