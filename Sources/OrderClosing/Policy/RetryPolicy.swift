/// Backoff between delivered attempts, bounded by a count and by a time window.
///
/// Delay before attempt n+1 is `base × 2^(n−1)`, capped, then jittered by ±`jitter`.
/// With the defaults (base 5 s, cap 10 min, jitter 20 %, 10 attempts, 24 h window):
///
/// | after attempt | delay    | jittered range  | elapsed (no jitter) |
/// |---------------|----------|-----------------|---------------------|
/// | 1             | 5 s      | 4 – 6 s         | 5 s                 |
/// | 2             | 10 s     | 8 – 12 s        | 15 s                |
/// | 3             | 20 s     | 16 – 24 s       | 35 s                |
/// | 4             | 40 s     | 32 – 48 s       | 1 min 15 s          |
/// | 5             | 80 s     | 64 – 96 s       | 2 min 35 s          |
/// | 6             | 160 s    | 128 – 192 s     | 5 min 15 s          |
/// | 7             | 320 s    | 256 – 384 s     | 10 min 35 s         |
/// | 8, 9          | 600 s    | 480 – 720 s     | 30 min 35 s         |
/// | 10            | —        | —               | gives up: `failed`  |
///
/// Attempts that never reached WeChat (every endpoint unreachable) and pauses of an open merchant
/// circuit do not count; they wait `outageDelay` (30 s) and are bounded only by the window.
///
/// Pushback (FREQUENCY_LIMITED, HTTP 429) does not count either, and waits `pushbackDelay`: 1 s
/// (0.8 – 1.2 s), whatever the attempt. WeChat's limits are per second, and the adaptive in-flight
/// limit (`ConcurrencyLimit`) has already slowed the loop, so a longer wait only leaves a tail of
/// refused orders behind a drained queue (BENCHMARKS.md, pushback).
public struct RetryPolicy: Sendable, Hashable {
    public var baseDelayMs: Int64 = 5_000
    public var maxDelayMs: Int64 = 600_000
    public var jitter: Double = 0.2
    public var maxAttempts: Int = 10
    /// From the first attempt; after it the order fails even if attempts remain.
    public var windowMs: Int64 = 24 * 3_600_000
    public var outageDelayMs: Int64 = 30_000
    /// After FREQUENCY_LIMITED or HTTP 429, jittered like the backoff.
    public var pushbackDelayMs: Int64 = 1_000

    public init() {}

    public init(
        baseDelayMs: Int64, maxDelayMs: Int64, jitter: Double, maxAttempts: Int, windowMs: Int64, outageDelayMs: Int64 = 30_000
    ) throws(PolicyError) {
        guard baseDelayMs > 0, maxDelayMs >= baseDelayMs else {
            throw PolicyError("retry delays must be positive with max ≥ base")
        }
        guard (0...0.5).contains(jitter) else { throw PolicyError("retry jitter must be between 0 and 0.5, got \(jitter)") }
        guard maxAttempts >= 1 else { throw PolicyError("retry max_attempts must be at least 1, got \(maxAttempts)") }
        guard windowMs > 0, outageDelayMs > 0 else { throw PolicyError("retry window and outage delay must be positive") }
        self.baseDelayMs = baseDelayMs
        self.maxDelayMs = maxDelayMs
        self.jitter = jitter
        self.maxAttempts = maxAttempts
        self.windowMs = windowMs
        self.outageDelayMs = outageDelayMs
    }

    /// The un-jittered delay after `attempt` (1-based).
    public func baseDelay(afterAttempt attempt: Int) -> Int64 {
        let doublings = min(max(attempt - 1, 0), 40)
        let (delay, overflow) = baseDelayMs.multipliedReportingOverflow(by: Int64(1) << doublings)
        return overflow ? maxDelayMs : min(delay, maxDelayMs)
    }

    /// The delay after `attempt`, jittered with `unit` ∈ [0, 1) (injected so tests are exact).
    public func delay(afterAttempt attempt: Int, unit: Double) -> Int64 {
        let base = Double(baseDelay(afterAttempt: attempt))
        return Int64(base * (1 - jitter + 2 * jitter * unit))
    }

    /// The wait after pushback, jittered with `unit` ∈ [0, 1).
    public func pushbackDelay(unit: Double) -> Int64 {
        Int64(Double(pushbackDelayMs) * (1 - jitter + 2 * jitter * unit))
    }

    /// Why the order must stop retrying, or nil if it may go on.
    public func exhaustion(attempt: Int, firstAttemptAt: Int64, nextAt: Int64) -> String? {
        if attempt >= maxAttempts { return "gave up after \(attempt) attempts" }
        if nextAt - firstAttemptAt > windowMs { return "gave up: the retry window of \(windowMs / 1000) s ran out" }
        return nil
    }
}
