import Logging
import OrderClosing
import OrderClosingTestSupport
import Testing
import WeChatPayV2

/// The retention service on the in-memory store (held to the SQLite store's conformance suite)
/// with a manual clock: it waits for an idle loop, prunes in spaced batches, reports one round.
@Suite struct RetentionServiceTests {
    static let created: Int64 = 1_800_000_000
    static let dueMs = DuePolicy.standard.dueTime(createdAt: created, timeoutSeconds: 0)
    static let day: Int64 = 86_400_000

    /// `count` orders closed at `dueMs` (one attempt each), and one still pending.
    func store(closed count: Int) async throws -> InMemoryOrderStore {
        let store = InMemoryOrderStore()
        for index in 0..<count { try store.insert("C\(index)", createdAt: Self.created) }
        let claimed = try await store.claimDue(
            ClaimRequest(limit: count), now: Self.dueMs, leaseOwner: "d", leaseUntil: Self.dueMs + 60_000)
        let attempt = { (order: ClaimedOrder) in
            AttemptRecord(
                call: .closeOrder, attempt: 1, startedAt: Self.dueMs, finishedAt: Self.dueMs + 1, endpoint: nil,
                response: ResponseSummary(httpStatus: 200, returnCode: "SUCCESS", resultCode: "SUCCESS", verified: true),
                outcome: .closed, error: nil)
        }
        _ = try await store.record(
            claimed.map {
                OrderWrite(
                    order: $0, change: .finish(.closed, outcome: "closed", transactionID: nil, reason: nil),
                    attempts: [attempt($0)])
            }, now: Self.dueMs)
        try store.insert("WAITING", createdAt: Self.created, timeout: 60 * 86_400)
        return store
    }

    @Test func itPrunesInSpacedBatchesOnlyOnceTheLoopIsIdleAndReportsOneRound() async throws {
        let store = try await store(closed: 700)
        let start = Self.dueMs + 31 * Self.day
        let clock = ManualClock(now: start)
        let activity = LoopActivity()
        let (rounds, roundSink) = AsyncStream.makeStream(of: RetentionSchedule.Round.self)
        let service = RetentionService(
            store: store, clock: clock, settings: RetentionSchedule.Settings(keepDays: 30), activity: activity,
            logger: Logger(label: "test"), onRound: { roundSink.yield($0) })
        let task = Task { try await service.run() }
        defer { task.cancel() }

        // The loop has not said it is idle (it is starting): nothing is touched.
        await clock.waitForSleepers()
        #expect(clock.nextDeadline == start + 5_000)
        #expect(try await store.countFinishedOrders(finishedBefore: .max).total == 700)
        activity.waiting(inFlight: 2)
        clock.advance(by: 5_000)
        await clock.waitForSleepers()
        #expect(try await store.countFinishedOrders(finishedBefore: .max).total == 700, "calls in flight: it steps aside")

        activity.waiting(inFlight: 0)
        clock.advance(by: 5_000)
        await clock.waitForSleepers()
        // One batch of 300, then a rest (the manual clock did not move: the 50 ms floor).
        #expect(try await store.countFinishedOrders(finishedBefore: .max).total == 400)
        #expect(clock.nextDeadline == start + 10_050)
        clock.advance(by: 50)
        await clock.waitForSleepers()
        #expect(try await store.countFinishedOrders(finishedBefore: .max).total == 100)
        clock.advance(by: 50)  // the last, short batch; then a reclaim step (memory: nothing to give back) ends the round
        await clock.waitForSleepers()
        clock.advance(by: 50)
        var iterator = rounds.makeAsyncIterator()
        let next = await iterator.next()
        let round = try #require(next)
        #expect(round.pruned == PrunedOrders(orders: [.closed: 700], attempts: 700))
        #expect(round.batches == 3 && round.cutoff == start + 10_000 - 30 * Self.day)
        #expect(try store.stored("WAITING")?.status == .pending, "an undecided order is never pruned")
        // The next round is due ten minutes after this one started.
        await clock.waitForSleepers()
        #expect(clock.nextDeadline == start + 10_000 + 600_000)
    }

    @Test func nothingYoungerThanKeepDaysGoes() async throws {
        let store = try await store(closed: 5)
        let clock = ManualClock(now: Self.dueMs + 29 * Self.day)
        let activity = LoopActivity()
        activity.waiting(inFlight: 0)
        let (rounds, roundSink) = AsyncStream.makeStream(of: RetentionSchedule.Round.self)
        let service = RetentionService(
            store: store, clock: clock, settings: RetentionSchedule.Settings(keepDays: 30), activity: activity,
            logger: Logger(label: "test"), onRound: { roundSink.yield($0) })
        let task = Task { try await service.run() }
        defer { task.cancel() }
        await clock.waitForSleepers()
        clock.advance(by: 50)
        var iterator = rounds.makeAsyncIterator()
        let next = await iterator.next()
        #expect(try #require(next).pruned.total == 0)
        #expect(try await store.countFinishedOrders(finishedBefore: .max).total == 5)
    }
}
