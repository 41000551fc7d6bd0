import OrderClosing
import OrderClosingTestSupport
import Testing

/// PostgreSQL's NOTIFY reaches the loop as a `QueueNudges` nudge: it ends an idle wait early, and
/// the poll stays the fallback. The clock never moves here, so only the nudge can wake the loop.
@Suite struct QueueNudgeTests {
    typealias H = WorkerHarness

    @Test func aNudgeEndsTheIdleWaitSoABackDatedRowIsClosedAtOnce() async throws {
        let nudges = QueueNudges()
        var settings = ClosingSettings.sequential
        settings.pollIntervalMs = 60_000
        let h = try WorkerHarness(settings: settings, nudges: nudges)
        defer { h.database.remove() }
        let task = Task { try await h.service.run() }
        await h.settle(recorded: 0)
        // The app writes a row already due (back-dated); with the clock standing still, the 60 s
        // poll never comes: only the nudge can make the loop look.
        try h.database.insert("BACKDATED", createdAt: H.created - 400)
        nudges.nudge()
        await h.settle(recorded: 1)
        #expect(h.callTimes("BACKDATED") == [H.created * 1000])
        task.cancel()
        _ = await task.result
    }

    @Test func aNudgeWhileNobodyWaitsIsKeptForTheNextWait() async {
        let nudges = QueueNudges()
        nudges.nudge()
        nudges.nudge()
        await nudges.next()  // returns at once: the nudges were kept (as one)
        let waiter = Task { await nudges.next() }
        nudges.nudge()
        await waiter.value
        #expect(nudges.count == 3)
    }

    @Test func aCancelledWaitReturns() async {
        let nudges = QueueNudges()
        let waiter = Task { await nudges.next() }
        waiter.cancel()
        await waiter.value
        #expect(nudges.count == 0)
    }
}
