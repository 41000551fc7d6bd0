import NIOConcurrencyHelpers
import OrderClosing
import OrderClosingTestSupport
import Testing

/// A claimed order starts only while its lease can cover an attempt (issue 21.6): one that waited
/// for a slot too long is given back and leased afresh, so no other daemon can rescue it mid-call.
@Suite struct LeaseCoverageTests {
    typealias H = WorkerHarness

    @Test func anOrderWhoseLeaseRanShortWhileWaitingForASlotIsLeasedAgainBeforeItsCall() async throws {
        var settings = ClosingSettings.sequential
        settings.leaseMs = 60_000
        settings.attemptMs = 30_000
        let leases = LeaseLog()
        let h = try WorkerHarness(settings: settings, store: { leases.wrapping($0) })
        defer { h.database.remove() }
        try h.database.insert("SLOW", createdAt: H.created)
        try h.database.insert("NEXT", createdAt: H.created)
        h.gateway.scriptClose("SLOW", [.held])
        let task = Task { try await h.service.run() }
        await h.settle(recorded: 0)
        await h.clock.waitForSleepers(1)
        h.clock.advance(to: H.dueMs())
        // SLOW holds the one slot; NEXT is claimed one call ahead and waits, its lease running.
        let claimedAhead = await h.withDeadline { while leases.claims("NEXT").isEmpty { await Task.yield() } }
        #expect(claimedAhead)
        let firstLease = try #require(leases.claims("NEXT").first)
        #expect(firstLease == H.dueMs() + 60_000)
        // The call takes 40 s: 20 s of NEXT's lease are left, less than an attempt's 30 s.
        h.clock.advance(to: H.dueMs() + 40_000)
        h.gateway.releaseHeld()
        await h.settle(recorded: 2)

        let callAt = try #require(h.callTimes("NEXT").first)
        let leaseAtCall = try #require(leases.claims("NEXT").last)
        #expect(leaseAtCall - callAt >= 30_000, "NEXT was sent with \(leaseAtCall - callAt) ms of its lease left")
        #expect(leases.claims("NEXT").count == 2)
        let row = try #require(try h.database.row("NEXT"))
        #expect(row["status"] as String == "closed")
        #expect(row["attempts"] as Int == 1)  // the give-back counted no attempt
        task.cancel()
        _ = await task.result
    }

    @Test func aReadyOrderWithEnoughLeaseStartsWithoutAReclaim() async throws {
        var settings = ClosingSettings.sequential
        settings.leaseMs = 60_000
        settings.attemptMs = 30_000
        let leases = LeaseLog()
        let h = try WorkerHarness(settings: settings, store: { leases.wrapping($0) })
        defer { h.database.remove() }
        try h.database.insert("SLOW", createdAt: H.created)
        try h.database.insert("NEXT", createdAt: H.created)
        h.gateway.scriptClose("SLOW", [.held])
        let task = Task { try await h.service.run() }
        await h.settle(recorded: 0)
        await h.clock.waitForSleepers(1)
        h.clock.advance(to: H.dueMs())
        let claimedAhead = await h.withDeadline { while leases.claims("NEXT").isEmpty { await Task.yield() } }
        #expect(claimedAhead)
        h.clock.advance(to: H.dueMs() + 30_000)  // exactly an attempt's worth left
        h.gateway.releaseHeld()
        await h.settle(recorded: 2)
        #expect(h.callTimes("NEXT") == [H.dueMs() + 30_000])
        #expect(leases.claims("NEXT") == [H.dueMs() + 60_000])
        task.cancel()
        _ = await task.result
    }
}

/// Forwards to a real store and notes the lease end of every claim, by out_trade_no.
final class LeaseLog: Sendable {
    private let log = NIOLockedValueBox([String: [Int64]]())

    func claims(_ outTradeNo: String) -> [Int64] { log.withLockedValue { $0[outTradeNo] ?? [] } }

    func wrapping(_ store: any OrderStore) -> any OrderStore {
        Noting(inner: store, log: self)
    }

    struct Noting: OrderStore {
        let inner: any OrderStore
        let log: LeaseLog

        func recordAndClaim(
            _ writes: [OrderWrite], claim: ClaimRequest, now: Int64, leaseOwner: String,
            leaseUntil: Int64
        ) async throws -> (recorded: [WriteResult], claimed: [ClaimedOrder]) {
            let result = try await inner.recordAndClaim(
                writes, claim: claim, now: now, leaseOwner: leaseOwner, leaseUntil: leaseUntil)
            log.log.withLockedValue { log in for order in result.claimed { log[order.outTradeNo, default: []].append(leaseUntil) }
            }
            return result
        }
        func record(_ writes: [OrderWrite], now: Int64) async throws -> [WriteResult] { try await inner.record(writes, now: now) }
        func release(_ orders: [ClaimedOrder], now: Int64) async throws { try await inner.release(orders, now: now) }
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
