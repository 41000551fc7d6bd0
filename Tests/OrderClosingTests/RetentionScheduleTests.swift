import OrderClosing
import Testing

/// The pure "what next" of retention: rounds, batches, rests, stepping aside while the loop is busy.
@Suite struct RetentionScheduleTests {
    static let start: Int64 = 1_800_000_000_000
    static let day: Int64 = 86_400_000
    let settings = RetentionSchedule.Settings(keepDays: 30)
    var cutoff: Int64 { Self.start - 30 * Self.day }

    func full(_ settings: RetentionSchedule.Settings) -> PrunedOrders {
        PrunedOrders(orders: [.closed: settings.batchSize], attempts: 400)
    }

    @Test func theFirstRoundStartsAtOnceWhenTheLoopIsIdleAndWaitsWhileItIsBusy() {
        var schedule = RetentionSchedule(settings: settings, now: Self.start)
        #expect(schedule.next(now: Self.start, idle: false) == .wait(until: Self.start + 5_000))
        #expect(
            schedule.next(now: Self.start + 5_000, idle: true)
                == .prune(finishedBefore: Self.start + 5_000 - 30 * Self.day, limit: 300))
    }

    @Test func batchesRestNineTimesTheirDurationAndAtLeastFiftyMilliseconds() {
        var schedule = RetentionSchedule(settings: settings, now: Self.start)
        #expect(schedule.next(now: Self.start, idle: true) == .prune(finishedBefore: cutoff, limit: 300))
        schedule.pruned(full(settings), startedAt: Self.start, now: Self.start + 20)  // 20 ms: rest 180 ms
        #expect(schedule.next(now: Self.start + 20, idle: true) == .wait(until: Self.start + 200))
        #expect(
            schedule.next(now: Self.start + 200, idle: true) == .prune(finishedBefore: cutoff, limit: 300),
            "the cutoff is the round's")
        schedule.pruned(full(settings), startedAt: Self.start + 200, now: Self.start + 202)  // 2 ms: rest the 50 ms floor
        #expect(schedule.next(now: Self.start + 202, idle: true) == .wait(until: Self.start + 252))
    }

    @Test func aBusyLoopPausesARoundWhichThenGoesOnWithItsCutoff() {
        var schedule = RetentionSchedule(settings: settings, now: Self.start)
        _ = schedule.next(now: Self.start, idle: true)
        schedule.pruned(full(settings), startedAt: Self.start, now: Self.start + 1)
        #expect(schedule.next(now: Self.start + 100, idle: false) == .wait(until: Self.start + 5_100))
        #expect(schedule.next(now: Self.start + 5_100, idle: true) == .prune(finishedBefore: cutoff, limit: 300))
    }

    @Test func aShortBatchEndsTheDeletingThenSpaceIsGivenBackUntilNoneIsLeft() {
        var schedule = RetentionSchedule(settings: settings, now: Self.start)
        _ = schedule.next(now: Self.start, idle: true)
        schedule.pruned(full(settings), startedAt: Self.start, now: Self.start + 1)
        _ = schedule.next(now: Self.start + 51, idle: true)
        schedule.pruned(
            PrunedOrders(orders: [.paid: 10, .failed: 2], attempts: 5), startedAt: Self.start + 51, now: Self.start + 52)
        #expect(schedule.next(now: Self.start + 102, idle: true) == .reclaim(pages: 256))
        #expect(schedule.reclaimed(freeLeft: 300, startedAt: Self.start + 102, now: Self.start + 104) == nil)
        #expect(schedule.next(now: Self.start + 154, idle: true) == .reclaim(pages: 256))
        let round = schedule.reclaimed(freeLeft: 0, startedAt: Self.start + 154, now: Self.start + 155)
        #expect(round?.pruned == PrunedOrders(orders: [.closed: 300, .paid: 10, .failed: 2], attempts: 405))
        #expect(round?.batches == 2 && round?.reclaimSteps == 2 && round?.freePagesLeft == 0 && round?.cutoff == cutoff)
        #expect(round?.busyMs == 5 && round?.endedAt == Self.start + 155)
        // The next round starts ten minutes after this one started.
        #expect(schedule.next(now: Self.start + 200, idle: true) == .wait(until: Self.start + 600_000))
        #expect(
            schedule.next(now: Self.start + 600_000, idle: true)
                == .prune(finishedBefore: Self.start + 600_000 - 30 * Self.day, limit: 300))
    }

    @Test func aReclaimStepThatFreesNothingEndsTheRound() {
        // A store that cannot give pages back step by step must not be asked forever.
        var schedule = RetentionSchedule(settings: settings, now: Self.start)
        _ = schedule.next(now: Self.start, idle: true)
        schedule.pruned(PrunedOrders(), startedAt: Self.start, now: Self.start)
        #expect(schedule.next(now: Self.start + 50, idle: true) == .reclaim(pages: 256))
        #expect(schedule.reclaimed(freeLeft: 40, startedAt: Self.start + 50, now: Self.start + 50) == nil)
        _ = schedule.next(now: Self.start + 100, idle: true)
        #expect(schedule.reclaimed(freeLeft: 40, startedAt: Self.start + 100, now: Self.start + 100)?.freePagesLeft == 40)
    }

    @Test func aFailureEndsTheRoundAndTheNextTriesAMinuteLater() {
        var schedule = RetentionSchedule(settings: settings, now: Self.start)
        _ = schedule.next(now: Self.start, idle: true)
        schedule.pruned(full(settings), startedAt: Self.start, now: Self.start + 1)
        let round = schedule.failed(now: Self.start + 60)
        #expect(round?.pruned.total == 300)
        #expect(schedule.next(now: Self.start + 61, idle: true) == .wait(until: Self.start + 60_060))
        #expect(schedule.failed(now: Self.start + 70) == nil, "no round, nothing to end")
    }
}
