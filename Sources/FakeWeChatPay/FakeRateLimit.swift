/// WeChat Pay's frequency limit as the fake plays it: a token bucket over all the calls the fake
/// receives. A call that finds the bucket empty is answered with a signed `FREQUENCY_LIMITED` and
/// not acted on, so a client sending faster than `perSecond` sees pushback on the excess only.
///
/// | moment                          | tokens                                   |
/// |---------------------------------|------------------------------------------|
/// | start                           | `burst`                                  |
/// | `t` seconds later               | + `perSecond × t`, at most `burst`       |
/// | a call admitted                 | − 1                                      |
/// | a call with fewer than 1 token  | unchanged; answered FREQUENCY_LIMITED    |
public struct FakeRateLimit: Sendable, Hashable {
    public let perSecond: Double
    public let burst: Double
    var tokens: Double
    var last: Double?

    /// - Parameters:
    ///   - perSecond: calls admitted per second, sustained; must be positive.
    ///   - burst: calls admitted at once after a quiet spell; at least 1.
    public init(perSecond: Double, burst: Double? = nil) {
        precondition(perSecond > 0, "FakeRateLimit: perSecond must be positive, got \(perSecond)")
        self.perSecond = perSecond
        self.burst = max(1, burst ?? perSecond / 10)
        self.tokens = self.burst
    }

    /// Whether a call received at `time` (seconds, any monotonic origin) is within the limit.
    public mutating func admit(at time: Double) -> Bool {
        // A clock that steps back (or repeats) adds nothing; the bucket refills from the latest time.
        let elapsed = last.map { max(0, time - $0) } ?? 0
        tokens = min(burst, tokens + elapsed * perSecond)
        last = max(last ?? time, time)
        guard tokens >= 1 else { return false }
        tokens -= 1
        return true
    }
}
