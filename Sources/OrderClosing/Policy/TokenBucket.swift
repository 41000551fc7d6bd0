/// A per-merchant rate limit: `rate` calls per second with bursts of `burst`.
///
/// Pure: callers pass `now` (unix ms) and get back when the call may go.
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

    /// Takes a token and returns when the call may start (now if a token was ready).
    public mutating func reserve(now: Int64) -> Int64 {
        refill(now: now)
        tokens -= 1
        if tokens >= 0 { return now }
        let waitMs = (-tokens / ratePerSecond) * 1000
        return now + Int64(waitMs.rounded(.up))
    }

    private mutating func refill(now: Int64) {
        if let updatedAt, now > updatedAt {
            tokens = min(burst, tokens + Double(now - updatedAt) / 1000 * ratePerSecond)
        }
        if updatedAt.map({ now > $0 }) ?? true { updatedAt = now }
    }
}
