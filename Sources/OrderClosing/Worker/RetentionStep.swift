/// Carries out `RetentionSchedule`'s next action against a store: the one place that turns the
/// schedule's decisions into store calls, for the daemon's `RetentionService` and for
/// `closeorderd prune`, which differ only in what they do with a failure and a finished round.
public struct RetentionStep: Sendable {
    /// A store call that failed, with what it was doing in words.
    public struct Failure: Error, CustomStringConvertible {
        public let doing: String
        public let error: any Error
        public var description: String { "could not \(doing): \(error)" }
    }

    let store: any OrderStore
    let clock: any OrderClock

    public init(store: any OrderStore, clock: any OrderClock) {
        self.store = store
        self.clock = clock
    }

    /// Waits, prunes a batch or gives pages back, as the schedule says; returns the round that
    /// action ended, if any. `sleep` waits until the given time (the service makes it end at a
    /// graceful shutdown). Deleted orders are counted in `closeorderd_orders_pruned_total`. A
    /// reclaim of 0 pages gives nothing back (`prune --vacuum` rewrites the file instead).
    public func run(
        _ schedule: inout RetentionSchedule, idle: Bool,
        sleep: (Int64) async throws -> Void
    ) async throws -> RetentionSchedule.Round? {
        switch schedule.next(now: clock.now(), idle: idle) {
        case .wait(let until):
            try await sleep(until)
            return nil
        case .prune(let cutoff, let limit):
            let started = clock.now()
            let pruned: PrunedOrders
            do {
                pruned = try await store.pruneFinishedOrders(finishedBefore: cutoff, limit: limit)
            } catch {
                throw Failure(doing: "delete old finished orders", error: error)
            }
            ClosingMetrics.pruned(pruned)
            schedule.pruned(pruned, startedAt: started, now: clock.now())
            return nil
        case .reclaim(let pages):
            let started = clock.now()
            let left: Int
            do {
                left = pages > 0 ? try await store.reclaimFreeSpace(pages: pages) : 0
            } catch {
                throw Failure(doing: "give free space back", error: error)
            }
            return schedule.reclaimed(freeLeft: left, startedAt: started, now: clock.now())
        }
    }
}
