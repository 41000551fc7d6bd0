import OrderClosing
import OrderClosingTestSupport
import ServiceLifecycleTestKit
import Testing
import WeChatPayV2

/// Graceful shutdown: stop claiming, let in-flight calls finish within the grace period and record
/// them, give back claims that never started, and return.
@Suite struct ShutdownTests {
    typealias H = WorkerHarness

    /// One slot, two orders per claim: the second claimed order waits for the slot, unstarted.
    static var oneSlotTwoClaimed: ClosingSettings {
        var settings = ClosingSettings()
        settings.concurrency = 1
        settings.batchSize = 2
        settings.shutdownGraceMs = 15_000
        return settings
    }

    @Test func drainsInFlightCallsAndReleasesUnstartedClaims() async throws {
        let h = try WorkerHarness(settings: Self.oneSlotTwoClaimed)
        defer { h.database.remove() }
        try h.database.insert("INFLIGHT", createdAt: H.created)
        try h.database.insert("WAITING", createdAt: H.created + 0)
        h.gateway.scriptClose("INFLIGHT", [.held])
        h.gateway.scriptClose("WAITING", [.held])

        try await testGracefulShutdown { trigger in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await h.service.run() }
                await h.settle(recorded: 0)
                h.clock.advance(to: H.dueMs())
                await h.gateway.waitForCalls(1)          // one call is in flight, the other waits for the slot
                trigger.triggerGracefulShutdown()
                h.gateway.releaseHeld()                 // the in-flight call finishes within the grace period
                try await group.next()                  // run() returns by itself
            }
        }
        let claimedFirst = h.gateway.calls[0].outTradeNo
        let other = claimedFirst == "INFLIGHT" ? "WAITING" : "INFLIGHT"
        #expect(h.gateway.calls.count == 1)
        #expect(try h.database.row(claimedFirst)?["status"] as String? == "closed")
        let released = try #require(try h.database.row(other))
        #expect(released["status"] as String == "pending")
        #expect(released["attempts"] as Int == 0)
        #expect(released["lease_token"] as String? == nil)
    }

    @Test func cancelsCallsThatOutliveTheGracePeriodAndRecordsThemInDoubt() async throws {
        var settings = ClosingSettings.sequential
        settings.shutdownGraceMs = 15_000
        let h = try WorkerHarness(settings: settings)
        defer { h.database.remove() }
        try h.database.insert("STUCK", createdAt: H.created)
        h.gateway.scriptClose("STUCK", [.hang])

        try await testGracefulShutdown { trigger in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await h.service.run() }
                await h.settle(recorded: 0)
                h.clock.advance(to: H.dueMs())
                await h.gateway.waitForCalls(1)
                trigger.triggerGracefulShutdown()
                // The loop arms its grace timer; nothing ends before the grace period is over.
                await h.clock.waitForSleepers(1)
                #expect(h.clock.nextDeadline == H.dueMs() + 15_000)
                h.clock.advance(to: H.dueMs() + 15_000)
                try await group.next()
            }
        }
        let row = try #require(try h.database.row("STUCK"))
        #expect(row["status"] as String == "pending")
        #expect(row["in_doubt"] as Int == 1)
        #expect(row["lease_token"] as String? == nil)
        #expect(try h.database.attempts("STUCK").count == 1)
    }
}
