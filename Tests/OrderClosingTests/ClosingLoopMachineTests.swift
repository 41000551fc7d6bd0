import Testing

@testable import OrderClosing

/// The closing loop's decisions without a store, a gateway or a clock: each test is a table of
/// rows, in order — tell the machine an event at a time, or expect its next action.
@Suite struct ClosingLoopMachineTests {
    static let t0: Int64 = 1_800_000_000_000
    static let o1 = order(1), o2 = order(2), o3 = order(3)
    static let merchants = MerchantDirectory(profiles: []).current
    /// What a claim may take with no merchant limits: a batch.
    static let batch = ClaimRequest(limit: 2)

    /// Two calls in flight at most, two orders per claim.
    static func machine(grace: Int64 = 15_000) -> ClosingLoopMachine {
        var settings = ClosingSettings()
        settings.concurrency = 2
        settings.concurrencyFloor = 2
        settings.batchSize = 2
        settings.shutdownGraceMs = grace
        return ClosingLoopMachine(settings: settings, merchants: merchants)
    }

    static func order(_ id: Int64) -> ClaimedOrder {
        ClaimedOrder(
            id: id, mchID: "1900000109", appID: "wx2421b1c4370ec43b", outTradeNo: "O\(id)", subMchID: nil, subAppID: nil,
            createdAt: 0, timeoutSeconds: 0, attempt: 0, inDoubt: false, firstAttemptAt: 0, leaseToken: "L\(id)")
    }

    static func closed(_ order: ClaimedOrder) -> OrderWrite {
        OrderWrite(order: order, change: .finish(.closed, outcome: "closed", transactionID: nil, reason: nil), attempts: [])
    }

    /// One row of a script, at a time (unix ms).
    enum Row {
        case expect(LoopAction)
        case expectAfterCalls(LoopFinalAction)
        case look(shuttingDown: Bool)
        case pauses
        case due(Int64?)
        case claimed([ClaimedOrder], recorded: Int)
        case recorded(Int)
        case released(Int)
        /// The database refused what was asked; `first`: the outage's first refusal.
        case refused(first: Bool)
        case answered(afterFailures: Int?)
        case finished(ClaimedOrder)
        case unstarted(ClaimedOrder)
        case woken
        case graceOver
        case slept
    }

    static func run(
        _ machine: inout ClosingLoopMachine, _ rows: [(Int64, Row)], sourceLocation: SourceLocation = #_sourceLocation
    ) {
        for (index, (now, row)) in rows.enumerated() {
            let comment: Comment = "row \(index + 1): \(row)"
            switch row {
            case .expect(let action): #expect(machine.next(now: now) == action, comment, sourceLocation: sourceLocation)
            case .expectAfterCalls(let action):
                #expect(machine.nextAfterCalls(now: now) == action, comment, sourceLocation: sourceLocation)
            case .look(let shuttingDown): machine.looked(now: now, shuttingDown: shuttingDown, merchants: merchants)
            case .pauses: machine.pausesRead([:], now: now)
            case .due(let due): machine.dueTimeFound(due, now: now)
            case .claimed(let orders, let recorded): machine.claimed(orders, recorded: recorded)
            case .recorded(let count): machine.recorded(count)
            case .released(let count): machine.released(count)
            case .refused(let first): #expect(machine.databaseFailed(now: now) == first, comment, sourceLocation: sourceLocation)
            case .answered(let failures):
                #expect(machine.databaseAnswered()?.failures == failures, comment, sourceLocation: sourceLocation)
            case .finished(let order):
                machine.callFinished(closed(order), circuit: .none, load: .ignored, delivery: nil, now: now)
            case .unstarted(let order): machine.callUnstarted(order)
            case .woken: machine.woken()
            case .graceOver: machine.graceOver()
            case .slept: machine.slept(now: now)
            }
        }
    }

    static func claim(_ now: Int64, _ writes: [OrderWrite] = []) -> LoopAction {
        .database(.recordAndClaim(writes, batch, now: now, leaseUntil: now + 60_000))
    }

    @Test func claimsOneBatchAheadOfTheSlotsAndStartsEachClaimedOrderAsASlotFrees() {
        let (t0, o1, o2, o3) = (Self.t0, Self.o1, Self.o2, Self.o3)
        var m = Self.machine()
        Self.run(
            &m,
            [
                (t0, .expect(.look)), (t0, .look(shuttingDown: false)),
                (t0, .expect(.database(.readPauses))), (t0, .pauses),  // the first iteration reads the operators' pauses
                (t0, .expect(Self.claim(t0))), (t0, .claimed([o1, o2], recorded: 0)),
                (t0, .expect(.start([o1, o2]))),
                // Both slots busy, nothing ready: one batch is claimed ahead; it comes back short.
                (t0, .expect(Self.claim(t0))), (t0, .claimed([o3], recorded: 0)),
                // No free slot: no start, no claim, no timer (each finished call wakes the loop).
                (t0, .expect(.wait(inFlight: 2))),
                (t0 + 10, .finished(o1)),
                (t0 + 10, .expect(.look)), (t0 + 10, .look(shuttingDown: false)),
                (t0 + 10, .expect(.start([o3]))),
                // One outcome, two calls in flight: it waits for company (the tail rule).
                (t0 + 10, .expect(.wait(inFlight: 2))),
            ])
        #expect(m.queue == .drained(.unread))
        #expect(m.completer.outcomes == [Self.closed(o1)])
    }

    @Test func aDrainedTailIsWrittenInFewCommitsAndAFiredTimerLooksBeforeClaiming() {
        let (t0, o1, o2, o3) = (Self.t0, Self.o1, Self.o2, Self.o3)
        var m = Self.machine()
        Self.run(
            &m,
            [
                (t0, .expect(.look)), (t0, .look(shuttingDown: false)),
                (t0, .expect(.database(.readPauses))), (t0, .pauses),
                (t0, .expect(Self.claim(t0))), (t0, .claimed([o1, o2], recorded: 0)),
                (t0, .expect(.start([o1, o2]))),
                (t0, .expect(Self.claim(t0))), (t0, .claimed([o3], recorded: 0)),
                (t0, .expect(.wait(inFlight: 2))),
                (t0 + 10, .finished(o1)), (t0 + 10, .expect(.look)), (t0 + 10, .look(shuttingDown: false)),
                (t0 + 10, .expect(.start([o3]))), (t0 + 10, .expect(.wait(inFlight: 2))),
                // Drained, two outcomes ≥ min(1 in flight, batch): written on their own.
                (t0 + 20, .finished(o2)), (t0 + 20, .expect(.look)), (t0 + 20, .look(shuttingDown: false)),
                (t0 + 20, .expect(.database(.record([Self.closed(o1), Self.closed(o2)])))), (t0 + 20, .recorded(2)),
                // Idle with a free slot: the timer is the next due time (read once), or the poll.
                (t0 + 20, .expect(.database(.findDueTime(Self.batch)))), (t0 + 20, .due(t0 + 3_000)),
                (t0 + 20, .expect(.armTimer(at: t0 + 3_000))),
                (t0 + 20, .expect(.wait(inFlight: 1))),
                // The timer: look before claiming; something is due, so claim with o3's outcome aboard.
                (t0 + 3_000, .finished(o3)), (t0 + 3_000, .expect(.look)), (t0 + 3_000, .look(shuttingDown: false)),
            ])
        #expect(m.completer.outcomes == [Self.closed(o3)])
        Self.run(
            &m,
            [
                // Drained still (no timer fired): one outcome ≥ min(0 in flight, 2) is written alone.
                (t0 + 3_000, .expect(.database(.record([Self.closed(o3)])))), (t0 + 3_000, .recorded(1)),
                (t0 + 3_000, .expect(.wait(inFlight: 0))),  // the timer is armed already
                (t0 + 3_000, .woken), (t0 + 3_000, .expect(.look)), (t0 + 3_000, .look(shuttingDown: false)),
                (t0 + 3_000, .expect(.database(.findDueTime(Self.batch)))), (t0 + 3_000, .due(t0 + 3_000)),
                (t0 + 3_000, .expect(Self.claim(t0 + 3_000))),
            ])
    }

    @Test func anIdlePollCostsOneReadAndSleepsToTheDueTimeItFound() {
        let t0 = Self.t0
        var m = Self.machine()
        Self.run(
            &m,
            [
                (t0, .expect(.look)), (t0, .look(shuttingDown: false)),
                (t0, .expect(.database(.readPauses))), (t0, .pauses),
                (t0, .expect(Self.claim(t0))), (t0, .claimed([], recorded: 0)),  // nothing due: drained
                (t0, .expect(.database(.findDueTime(Self.batch)))), (t0, .due(nil)),
                (t0, .expect(.armTimer(at: t0 + 5_000))),  // no order pending at all: the poll
                (t0, .expect(.wait(inFlight: 0))),
                (t0 + 5_000, .woken), (t0 + 5_000, .expect(.look)), (t0 + 5_000, .look(shuttingDown: false)),
                (t0 + 5_000, .expect(.database(.readPauses))), (t0 + 5_000, .pauses),
                // A timer: read the next due time first, and claim only if something is due.
                (t0 + 5_000, .expect(.database(.findDueTime(Self.batch)))), (t0 + 5_000, .due(t0 + 9_000)),
                // Not due: drained, and that same answer sets the timer (no second read).
                (t0 + 5_000, .expect(.armTimer(at: t0 + 9_000))),
                (t0 + 5_000, .expect(.wait(inFlight: 0))),
                (t0 + 9_000, .woken), (t0 + 9_000, .expect(.look)), (t0 + 9_000, .look(shuttingDown: false)),
                (t0 + 9_000, .expect(.database(.findDueTime(Self.batch)))), (t0 + 9_000, .due(t0 + 9_000)),
                (t0 + 9_000, .expect(Self.claim(t0 + 9_000))),
            ])
    }

    @Test func aRefusingDatabaseIsAskedAgainOnlyOnTheBackoffStepsAndTheQueuedOutcomesWait() {
        let (t0, o1, o2, o3) = (Self.t0, Self.o1, Self.o2, Self.o3)
        var m = Self.machine()
        Self.run(
            &m,
            [
                (t0, .expect(.look)), (t0, .look(shuttingDown: false)),
                (t0, .expect(.database(.readPauses))), (t0, .pauses),
                (t0, .expect(Self.claim(t0))), (t0, .claimed([o1, o2], recorded: 0)),
                (t0, .expect(.start([o1, o2]))),
                (t0, .expect(Self.claim(t0))), (t0, .claimed([o3], recorded: 0)),
                (t0, .expect(.wait(inFlight: 2))),
                (t0 + 10, .finished(o1)), (t0 + 10, .expect(.look)), (t0 + 10, .look(shuttingDown: false)),
                (t0 + 10, .expect(.start([o3]))), (t0 + 10, .expect(.wait(inFlight: 2))),
                (t0 + 20, .finished(o2)), (t0 + 20, .expect(.look)), (t0 + 20, .look(shuttingDown: false)),
                (t0 + 20, .expect(.database(.record([Self.closed(o1), Self.closed(o2)])))), (t0 + 20, .refused(first: true)),
                // Refused: the outcomes stay queued, and the timer is the backoff's first step.
                (t0 + 20, .expect(.armTimer(at: t0 + 270))), (t0 + 20, .expect(.wait(inFlight: 1))),
                // A call finishing before the retry: no store call at all until the backoff is over.
                (t0 + 100, .finished(o3)), (t0 + 100, .expect(.look)), (t0 + 100, .look(shuttingDown: false)),
                (t0 + 100, .expect(.wait(inFlight: 0))),
                (t0 + 270, .woken), (t0 + 270, .expect(.look)), (t0 + 270, .look(shuttingDown: false)),
                (t0 + 270, .expect(.database(.findDueTime(Self.batch)))), (t0 + 270, .refused(first: false)),
                (t0 + 270, .expect(.armTimer(at: t0 + 770))),  // the second step: 500 ms
                (t0 + 270, .expect(.wait(inFlight: 0))),
                (t0 + 770, .woken), (t0 + 770, .expect(.look)), (t0 + 770, .look(shuttingDown: false)),
                (t0 + 770, .expect(.database(.findDueTime(Self.batch)))), (t0 + 770, .answered(afterFailures: 2)),
                (t0 + 770, .due(nil)),
                // Back: the queued outcomes are written (drained, none in flight).
                (t0 + 770, .expect(.database(.record([Self.closed(o1), Self.closed(o2), Self.closed(o3)])))),
            ])
    }

    @Test(
        arguments: [
            (1, 250), (2, 500), (3, 1_000), (4, 2_000), (5, 4_000), (6, 8_000), (7, 16_000), (8, 30_000), (9, 30_000),
            (50, 30_000),
        ] as [(Int, Int64)])
    func theDatabaseBackoffTable(failures: Int, waitMs: Int64) {
        var backoff = DatabaseBackoff()
        for n in 1...failures { #expect(backoff.failed(now: Self.t0) == (n == 1)) }
        #expect(backoff.retryAt == Self.t0 + waitMs)
        #expect(!backoff.isOpen(now: Self.t0 + waitMs - 1))
        #expect(backoff.isOpen(now: Self.t0 + waitMs))
        #expect(backoff.answered() == failures)
        #expect(backoff.isOpen(now: Self.t0))
        #expect(backoff.answered() == nil)
    }

    @Test func shutdownGivesBackReadyOrdersDrainsTheCallsThenCancelsThemAtTheGracePeriodsEnd() {
        let (t0, o1, o2, o3) = (Self.t0, Self.o1, Self.o2, Self.o3)
        var m = Self.machine()
        Self.run(
            &m,
            [
                (t0, .expect(.look)), (t0, .look(shuttingDown: false)),
                (t0, .expect(.database(.readPauses))), (t0, .pauses),
                (t0, .expect(Self.claim(t0))), (t0, .claimed([o1, o2], recorded: 0)),
                (t0, .expect(.start([o1, o2]))),
                (t0, .expect(Self.claim(t0))), (t0, .claimed([o3], recorded: 0)),
                (t0, .expect(.wait(inFlight: 2))),
                (t0 + 10, .finished(o1)), (t0 + 10, .expect(.look)),
                (t0 + 10, .look(shuttingDown: true)),
                (t0 + 10, .expect(.report(.stopping(inFlight: 1)))),
                // No claims; the ready order (o3) is given back, with the outcome on hand.
                (t0 + 10, .expect(.database(.record([Self.closed(o1)])))), (t0 + 10, .recorded(1)),
                (t0 + 10, .expect(.database(.release([o3])))), (t0 + 10, .released(1)),
                (t0 + 10, .expect(.armGrace(at: t0 + 15_010))),
                (t0 + 10, .expect(.wait(inFlight: 1))),
                (t0 + 15_010, .graceOver),
                (t0 + 15_010, .expect(.cancelCalls(inFlight: 1))),
                (t0 + 15_010, .expect(.wait(inFlight: 1))),  // the grace timer is armed once
                (t0 + 15_010, .unstarted(o2)),  // the cancelled call ends: given back at once
                (t0 + 15_010, .expect(.database(.release([o2])))), (t0 + 15_010, .released(1)),
                (t0 + 15_010, .expect(.endCalls)),
                (t0 + 15_010, .expectAfterCalls(.exit(unrecorded: 0))),
            ])
    }

    @Test func aLastOutcomeTheDatabaseRefusesIsTriedOnTheBackoffUntilTheGracePeriodsEnd() {
        let (t0, o1) = (Self.t0, Self.o1)
        var m = Self.machine(grace: 2_000)
        Self.run(
            &m,
            [
                (t0, .expect(.look)), (t0, .look(shuttingDown: false)),
                (t0, .expect(.database(.readPauses))), (t0, .pauses),
                (t0, .expect(Self.claim(t0))), (t0, .claimed([o1], recorded: 0)),
                (t0, .expect(.start([o1]))),
                (t0, .expect(.database(.findDueTime(Self.batch)))), (t0, .due(nil)),  // drained (a short claim), a slot free
                (t0, .expect(.armTimer(at: t0 + 5_000))), (t0, .expect(.wait(inFlight: 1))),
                (t0, .woken), (t0, .expect(.look)), (t0, .look(shuttingDown: true)),
                (t0, .expect(.report(.stopping(inFlight: 1)))),
                (t0, .expect(.armGrace(at: t0 + 2_000))), (t0, .expect(.wait(inFlight: 1))),
                (t0 + 100, .finished(o1)),
                (t0 + 100, .expect(.database(.record([Self.closed(o1)])))), (t0 + 100, .refused(first: true)),
                (t0 + 100, .expect(.endCalls)),
                // After the calls: the backoff's steps (250 ms doubling), the last try at the grace's end.
                (t0 + 100, .expectAfterCalls(.sleep(until: t0 + 350))), (t0 + 350, .slept),
                (t0 + 350, .expectAfterCalls(.database(.record([Self.closed(o1)])))), (t0 + 350, .refused(first: false)),
                (t0 + 350, .expectAfterCalls(.sleep(until: t0 + 850))), (t0 + 850, .slept),
                (t0 + 850, .expectAfterCalls(.database(.record([Self.closed(o1)])))), (t0 + 850, .refused(first: false)),
                (t0 + 850, .expectAfterCalls(.sleep(until: t0 + 1_850))), (t0 + 1_850, .slept),
                (t0 + 1_850, .expectAfterCalls(.database(.record([Self.closed(o1)])))), (t0 + 1_850, .refused(first: false)),
                (t0 + 1_850, .expectAfterCalls(.sleep(until: t0 + 2_000))), (t0 + 2_000, .slept),
                (t0 + 2_000, .expectAfterCalls(.database(.record([Self.closed(o1)])))), (t0 + 2_000, .refused(first: false)),
                (t0 + 2_000, .expectAfterCalls(.exit(unrecorded: 1))),
            ])
    }

    @Test func aReadyOrderWhoseLeaseCannotCoverAnAttemptIsGivenBackNotStarted() {
        let (t0, o1, o2, o3) = (Self.t0, Self.o1, Self.o2, Self.o3)
        var m = Self.machine()
        Self.run(
            &m,
            [
                (t0, .expect(.look)), (t0, .look(shuttingDown: false)),
                (t0, .expect(.database(.readPauses))), (t0, .pauses),
                (t0, .expect(Self.claim(t0))), (t0, .claimed([o1, o2], recorded: 0)),
                (t0, .expect(.start([o1, o2]))),
                (t0, .expect(Self.claim(t0))), (t0, .claimed([o3], recorded: 0)),
                (t0, .expect(.wait(inFlight: 2))),
                // 30 001 ms later o3's 60 s lease has 29 999 ms left: less than an attempt (30 s).
                (t0 + 30_001, .finished(o1)), (t0 + 30_001, .expect(.look)), (t0 + 30_001, .look(shuttingDown: false)),
                (t0 + 30_001, .expect(.report(.leaseRanShort(orders: 1, limit: 2)))),
                (t0 + 30_001, .expect(.database(.readPauses))), (t0 + 30_001, .pauses),
                // A give-back is written at once, the outcome with it (drained: 1 ≥ min(1, 2)).
                (t0 + 30_001, .expect(.database(.record([Self.closed(o1)])))), (t0 + 30_001, .recorded(1)),
                (t0 + 30_001, .expect(.database(.release([o3])))),
            ])
    }

    /// `OutcomeCompleter`'s first table: when the queue is written without a claim.
    @Test(
        arguments: [
            // outcomes, unstarted, drained, in flight → due
            (0, 0, true, 0, false),
            (0, 1, false, 5, true),  // a give-back: at once
            (2, 0, false, 5, true),  // a full batch (2)
            (1, 0, false, 0, false),  // busy queue: the next claim carries it
            (1, 0, true, 2, false),  // drained tail: 1 < min(2, 2)
            (1, 0, true, 1, true),  // drained tail: 1 ≥ min(1, 2)
            (2, 0, true, 9, true),  // drained tail: capped by the batch
        ] as [(Int, Int, Bool, Int, Bool)])
    func whenTheCompleterWrites(outcomes: Int, unstarted: Int, drained: Bool, inFlight: Int, due: Bool) {
        var completer = OutcomeCompleter()
        for id in 0..<Int64(outcomes) { completer.add(Self.closed(Self.order(id))) }
        for id in 0..<Int64(unstarted) { completer.giveBack(Self.order(100 + id)) }
        #expect(completer.isDue(queueDrained: drained, inFlight: inFlight, batchSize: 2) == due)
    }

    /// `OutcomeCompleter`'s second table: after the calls, the next try of what is left.
    @Test func theCompletersLastTries() {
        var completer = OutcomeCompleter()
        let t0 = Self.t0
        #expect(completer.nextTry(now: t0, retryAt: t0 + 250, graceDeadline: t0 + 1_000) == nil)  // nothing left
        completer.add(Self.closed(Self.o1))
        #expect(completer.nextTry(now: t0, retryAt: t0 + 250, graceDeadline: t0 + 1_000) == t0 + 250)
        #expect(completer.nextTry(now: t0, retryAt: t0 + 4_000, graceDeadline: t0 + 1_000) == t0 + 1_000)
        #expect(completer.nextTry(now: t0 + 1_000, retryAt: t0 + 4_000, graceDeadline: t0 + 1_000) == nil)  // the grace is over
        #expect(completer.nextTry(now: t0, retryAt: t0, graceDeadline: nil) == nil)  // never stopped: no grace to use
        #expect(completer.write(.outcomes, databaseOpen: false) == nil)
        #expect(completer.write(.outcomes, databaseOpen: true) == .record([Self.closed(Self.o1)]))
        #expect(completer.write(.releases, databaseOpen: true) == nil)
    }
}
