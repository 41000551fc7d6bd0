/// When the daemon deletes old finished orders and gives their space back: a state machine over
/// injected time, with no I/O. `next(now:idle:)` says what to do; `pruned`, `reclaimed` and
/// `failed` report what happened. `RetentionService` carries the actions out.
///
/// A round starts every `roundIntervalMs` (the first at start), deletes in batches until a batch
/// comes back short, then gives the freed pages back in steps until none is left. It only works
/// while the closing loop is idle (nothing due, nothing in flight): when the loop gets busy it
/// steps aside and looks again after `busyRecheckMs`. After every batch or step it rests for
/// `restFactor` times that transaction's duration (at least `minRestMs`), so the write lock is held
/// at most 1 / (1 + restFactor) of the time and the merchant's INSERTs rarely meet it.
///
/// | setting          | default             | why                                                     |
/// |------------------|---------------------|---------------------------------------------------------|
/// | keepMs           | 30 days             | `retention.keep_days`                                   |
/// | batchSize        | 300 orders          | one transaction: 16–50 ms on a loaded 2-core machine (P6) |
/// | rest after each  | 9 × its time, ≥ 50 ms | the write lock held ≤ 10 % of a round                 |
/// | reclaimPages     | 256 (1 MiB at 4 KiB) | one incremental-vacuum step                            |
/// | busyRecheckMs    | 5 s                 | the loop's default poll                                 |
/// | roundIntervalMs  | 10 min              | each round finds ~10 min of orders that came of age     |
/// | retryAfterMs     | 60 s                | after a database error (the loop says so too)          |
public struct RetentionSchedule: Sendable {
    public struct Settings: Sendable, Hashable {
        public var keepMs: Int64
        public var batchSize = 300
        public var restFactor: Int64 = 9
        public var minRestMs: Int64 = 50
        public var reclaimPages = 256
        public var busyRecheckMs: Int64 = 5_000
        public var roundIntervalMs: Int64 = 600_000
        public var retryAfterMs: Int64 = 60_000

        public init(keepDays: Int) {
            keepMs = Int64(keepDays) * 86_400_000
        }
    }

    public enum Action: Sendable, Hashable {
        case wait(until: Int64)
        /// Delete up to `limit` orders finished before the cutoff (one transaction).
        case prune(finishedBefore: Int64, limit: Int)
        /// Give up to `pages` free pages back (one transaction).
        case reclaim(pages: Int)
    }

    /// One round, for its journal line.
    public struct Round: Sendable, Hashable {
        public var startedAt: Int64
        public var cutoff: Int64
        public var pruned = PrunedOrders()
        public var batches = 0
        public var reclaimSteps = 0
        /// Free pages left when the round ended (0: all given back, or nothing to give).
        public var freePagesLeft = 0
        /// Time spent inside the round's transactions, ms.
        public var busyMs: Int64 = 0
        public var endedAt: Int64 = 0
    }

    enum Phase: Sendable, Hashable {
        case between
        case pruning
        case reclaiming(lastFree: Int)
    }

    public let settings: Settings
    private(set) var phase = Phase.between
    private(set) var round: Round?
    private(set) var nextRoundAt: Int64
    private(set) var restUntil: Int64 = 0

    /// - Parameter now: the first round may start at once.
    public init(settings: Settings, now: Int64) {
        self.settings = settings
        nextRoundAt = now
    }

    /// What to do at `now`; `idle` is whether the closing loop has nothing due and nothing in flight.
    public mutating func next(now: Int64, idle: Bool) -> Action {
        if round == nil {
            if now < nextRoundAt { return .wait(until: nextRoundAt) }
            if !idle { return .wait(until: now + settings.busyRecheckMs) }
            round = Round(startedAt: now, cutoff: now - settings.keepMs)
            phase = .pruning
        }
        if now < restUntil { return .wait(until: restUntil) }
        if !idle { return .wait(until: now + settings.busyRecheckMs) }
        switch phase {
        case .between, .pruning:
            return .prune(finishedBefore: round?.cutoff ?? now - settings.keepMs, limit: settings.batchSize)
        case .reclaiming:
            return .reclaim(pages: settings.reclaimPages)
        }
    }

    /// A batch ran from `startedAt` to `now`. A short batch ends the deleting.
    public mutating func pruned(_ result: PrunedOrders, startedAt: Int64, now: Int64) {
        guard var current = round else { return }
        current.pruned = current.pruned + result
        current.batches += 1
        current.busyMs += max(0, now - startedAt)
        round = current
        rest(startedAt: startedAt, now: now)
        if result.total < settings.batchSize { phase = .reclaiming(lastFree: .max) }
    }

    /// A reclaim step ran; `freeLeft` pages are still free. Returns the finished round when no page
    /// is left, or a step made no progress (the store cannot give space back step by step).
    public mutating func reclaimed(freeLeft: Int, startedAt: Int64, now: Int64) -> Round? {
        guard var current = round, case .reclaiming(let lastFree) = phase else { return nil }
        current.reclaimSteps += 1
        current.busyMs += max(0, now - startedAt)
        current.freePagesLeft = freeLeft
        round = current
        rest(startedAt: startedAt, now: now)
        if freeLeft > 0, freeLeft < lastFree {
            phase = .reclaiming(lastFree: freeLeft)
            return nil
        }
        return endRound(now: now, next: max(now, current.startedAt + settings.roundIntervalMs))
    }

    /// A transaction failed: the round ends with what it did, and the next starts after `retryAfterMs`.
    public mutating func failed(now: Int64) -> Round? {
        guard round != nil else { return nil }
        return endRound(now: now, next: now + settings.retryAfterMs)
    }

    private mutating func rest(startedAt: Int64, now: Int64) {
        restUntil = now + max(settings.minRestMs, settings.restFactor * max(0, now - startedAt))
    }

    private mutating func endRound(now: Int64, next: Int64) -> Round? {
        guard var finished = round else { return nil }
        finished.endedAt = now
        round = nil
        phase = .between
        nextRoundAt = next
        return finished
    }
}
