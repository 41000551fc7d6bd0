import NIOConcurrencyHelpers
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
                await h.gateway.waitForCalls(1)  // one call is in flight, the other waits for the slot
                trigger.triggerGracefulShutdown()
                h.gateway.releaseHeld()  // the in-flight call finishes within the grace period
                try await group.next()  // run() returns by itself
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

/// The last writes of a shutdown meet a database that refuses them (a PostgreSQL restart, a
/// locked SQLite file): they are tried again on the database backoff until the grace period ends.
@Suite struct ShutdownWritesTests {
    typealias H = WorkerHarness

    static var oneSlot: ClosingSettings {
        var settings = ClosingSettings.sequential
        settings.shutdownGraceMs = 15_000
        return settings
    }

    /// Stops with one call in flight; the database refuses the write of its outcome.
    func stopWithTheOutcomeRefused(_ h: WorkerHarness, _ store: RefusingStore, then body: @escaping @Sendable () async -> Void)
        async throws
    {
        try h.database.insert("LATE", createdAt: H.created)
        h.gateway.scriptClose("LATE", [.held])
        try await testGracefulShutdown { trigger in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await h.service.run() }
                await h.settle(recorded: 0)
                h.clock.advance(to: H.dueMs())
                let called = await h.withDeadline(seconds: 20) { await h.gateway.waitForCalls(1) }
                #expect(called, "no call")
                store.refusing = true
                trigger.triggerGracefulShutdown()
                let armed = await h.withDeadline(seconds: 20) { await h.clock.waitForSleeper(until: H.dueMs() + 15_000) }
                #expect(
                    armed, "no grace timer: \(String(describing: h.clock.nextDeadline)) now \(h.clock.now()) due \(H.dueMs())")
                h.gateway.releaseHeld()
                await body()
                try await group.next()
            }
        }
    }

    @Test func recordsTheOutcomeWhenTheDatabaseComesBackWithinTheGracePeriod() async throws {
        let store = RefusingStore()
        let h = try WorkerHarness(settings: Self.oneSlot, store: { store.wrapping($0) })
        defer { h.database.remove() }
        try await stopWithTheOutcomeRefused(h, store) {
            // Refused once; the loop waits out the first backoff step (250 ms), not the grace period.
            let waited = await h.withDeadline(seconds: 20) { await h.clock.waitForSleeper(until: H.dueMs() + 250) }
            #expect(waited, "the refused outcome was never tried again (run() returned with it unrecorded)")
            store.refusing = false
            h.clock.advance(to: H.dueMs() + 250)
        }
        #expect(store.refusals == 1)
        let row = try #require(try h.database.row("LATE"))
        #expect(row["status"] as String == "closed")
        #expect(row["lease_token"] as String? == nil)
        #expect(try h.database.attempts("LATE").count == 1)
    }

    @Test func givesUpAtTheEndOfTheGracePeriodWhenTheDatabaseStaysDown() async throws {
        let store = RefusingStore()
        let h = try WorkerHarness(settings: Self.oneSlot, store: { store.wrapping($0) })
        defer { h.database.remove() }
        try await stopWithTheOutcomeRefused(h, store) {
            // The backoff's steps (250 ms doubling), then one last try at the grace period's end.
            for offset: Int64 in [250, 750, 1_750, 3_750, 7_750, 15_000] {
                let waited = await h.withDeadline(seconds: 20) { await h.clock.waitForSleeper(until: H.dueMs() + offset) }
                #expect(waited, "no try at +\(offset) ms")
                h.clock.advance(to: H.dueMs() + offset)
                if !waited { break }
            }
        }
        #expect(store.refusals == 7)
        #expect(h.clock.now() == H.dueMs() + 15_000)
        #expect(try h.database.row("LATE")?["status"] as String? == "closing")  // the rescuer's, in doubt
        #expect(try h.database.attempts("LATE").isEmpty)
    }
}

/// Forwards to a real store; while `refusing`, the loop's writes fail as a database outage would.
final class RefusingStore: Sendable {
    private let state = NIOLockedValueBox((refusing: false, refusals: 0))
    var refusing: Bool {
        get { state.withLockedValue { $0.refusing } }
        set { state.withLockedValue { $0.refusing = newValue } }
    }
    var refusals: Int { state.withLockedValue { $0.refusals } }

    struct Refused: Error {}

    func check() throws {
        try state.withLockedValue { state in
            guard state.refusing else { return }
            state.refusals += 1
            throw Refused()
        }
    }

    func wrapping(_ store: any OrderStore) -> any OrderStore { Wrapper(inner: store, gate: self) }

    struct Wrapper: OrderStore {
        let inner: any OrderStore
        let gate: RefusingStore

        func recordAndClaim(
            _ writes: [OrderWrite], claim: ClaimRequest, now: Int64, leaseOwner: String,
            leaseUntil: Int64
        ) async throws -> (recorded: [WriteResult], claimed: [ClaimedOrder]) {
            try gate.check()
            return try await inner.recordAndClaim(writes, claim: claim, now: now, leaseOwner: leaseOwner, leaseUntil: leaseUntil)
        }
        func record(_ writes: [OrderWrite], now: Int64) async throws -> [WriteResult] {
            try gate.check()
            return try await inner.record(writes, now: now)
        }
        func release(_ orders: [ClaimedOrder], now: Int64) async throws {
            try gate.check()
            try await inner.release(orders, now: now)
        }
        func rescueExpiredLeases(now: Int64, sparing: String?) async throws -> [RescuedOrder] {
            try await inner.rescueExpiredLeases(now: now, sparing: sparing)
        }
        func nextDueTime(admittedBy claim: ClaimRequest) async throws -> Int64? { try await inner.nextDueTime(admittedBy: claim) }
        func publish(_ key: String, _ value: String, now: Int64) async throws { try await inner.publish(key, value, now: now) }
        func pausedMerchants() async throws -> [String: String] { try await inner.pausedMerchants() }
        func announce(_ daemon: DaemonRecord, now: Int64) async throws { try await inner.announce(daemon, now: now) }
        func daemons() async throws -> [DaemonRecord] { try await inner.daemons() }
        func forget(daemon owner: String) async throws { try await inner.forget(daemon: owner) }
        func rescueLeases(heldBy owner: String, now: Int64) async throws -> [RescuedOrder] {
            try await inner.rescueLeases(heldBy: owner, now: now)
        }
        func summary(now: Int64) async throws -> QueueSummary { try await inner.summary(now: now) }
        func pruneFinishedOrders(finishedBefore cutoff: Int64, limit: Int) async throws -> PrunedOrders {
            try await inner.pruneFinishedOrders(finishedBefore: cutoff, limit: limit)
        }
        func countFinishedOrders(finishedBefore cutoff: Int64) async throws -> PrunedOrders {
            try await inner.countFinishedOrders(finishedBefore: cutoff)
        }
        func reclaimFreeSpace(pages: Int) async throws -> Int { try await inner.reclaimFreeSpace(pages: pages) }
    }
}
