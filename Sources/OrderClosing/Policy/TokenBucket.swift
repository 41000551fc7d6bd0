/// A per-merchant rate limit: `rate` calls per second with bursts of `burst`.
///
/// Pure: callers pass `now` (unix ms). Tokens are taken when orders are claimed, never ahead of
/// time, so a claimed order starts its call at once and its lease is spent on the call alone.
///
/// | rate / burst | 20 orders due at once: claimed at (s)        |
/// |--------------|----------------------------------------------|
/// | 1 / 1        | 0, 1, 2, … 19                                |
/// | 10 / 2       | 0, 0, 0.1, 0.2, … 1.8                        |
/// | 100 / 100    | all at 0                                     |
public struct TokenBucket: Sendable, Hashable {
    public let ratePerSecond: Double
    public let burst: Double
    private var tokens: Double
    private var updatedAt: Int64?

    public init(ratePerSecond: Double, burst: Double) {
        self.ratePerSecond = ratePerSecond
        self.burst = max(burst, 1)
        self.tokens = max(burst, 1)
    }

    /// Whole tokens ready at `now`.
    public mutating func available(now: Int64) -> Int {
        refill(now: now)
        // The epsilon absorbs float drift: 0.999999 tokens after exact refills is one token.
        return max(0, Int((tokens + 1e-9).rounded(.down)))
    }

    /// Takes `count` tokens (callers take no more than `available`).
    public mutating func take(_ count: Int, now: Int64) {
        refill(now: now)
        tokens -= Double(count)
    }

    /// When the next whole token is ready (now if one is).
    public mutating func nextTokenAt(now: Int64) -> Int64 {
        refill(now: now)
        guard tokens < 1 else { return now }
        return now + Int64(((1 - tokens) / ratePerSecond * 1000).rounded(.up))
    }

    private mutating func refill(now: Int64) {
        if let updatedAt, now > updatedAt {
            tokens = min(burst, tokens + Double(now - updatedAt) / 1000 * ratePerSecond)
        }
        if updatedAt.map({ now > $0 }) ?? true { updatedAt = now }
    }
}
