import OrderClosing
import Testing

/// The adaptive in-flight limit, step by step, against its doc table.
@Suite struct ConcurrencyLimitTests {
    /// Feeds `rounds` round trips of successes at `latency` with the limit fully used.
    func run(_ limit: inout ConcurrencyLimit, rounds: Int, latency: Int64, from start: Int64 = 0) -> Int64 {
        var now = start
        for _ in 0..<rounds {
            for _ in 0..<limit.limit { limit.record(.success(latencyMs: latency), inFlight: limit.limit, now: now) }
            now += latency
        }
        return now
    }

    @Test func startsAtAQuarterOfTheCeilingAndDoublesWhileLatencyIsFlat() {
        var limit = ConcurrencyLimit(ceiling: 256)
        #expect(limit.limit == 64)
        _ = run(&limit, rounds: 1, latency: 50)
        #expect(limit.limit == 128)
        _ = run(&limit, rounds: 5, latency: 50)
        #expect(limit.limit == 256, "the ceiling bounds it")
    }

    @Test func pushbackShrinksItOncePerRoundTripThenGrowthIsAdditive() {
        var limit = ConcurrencyLimit(ceiling: 256)
        let now = run(&limit, rounds: 1, latency: 50)  // 128, baseline 50 ms
        limit.record(.pushback, inFlight: 128, now: now)
        #expect(limit.limit == 96)
        limit.record(.pushback, inFlight: 128, now: now + 10)  // the same round trip's news
        #expect(limit.limit == 96)
        limit.record(.pushback, inFlight: 96, now: now + 50)
        #expect(limit.limit == 72)
        _ = run(&limit, rounds: 3, latency: 50, from: now + 100)
        #expect(limit.limit == 75, "after a backoff it grows by one per round trip")
    }

    @Test func risingLatencyShrinksItAndTheFloorHolds() {
        var limit = ConcurrencyLimit(ceiling: 64, floor: 8)
        var now = run(&limit, rounds: 1, latency: 20)  // 32, baseline 20 ms
        for _ in 0..<40 {
            limit.record(.success(latencyMs: 200), inFlight: limit.limit, now: now)
            now += 20
        }
        #expect(limit.limit == 8)
    }

    @Test func outagesAndIdleTimesTeachItNothing() {
        var limit = ConcurrencyLimit(ceiling: 64)
        for _ in 0..<1_000 { limit.record(.ignored, inFlight: 64, now: 0) }
        #expect(limit.limit == 16)
        for _ in 0..<1_000 { limit.record(.success(latencyMs: 5), inFlight: 2, now: 0) }
        #expect(limit.limit == 16, "a limit that is not used is not raised")
    }
}
