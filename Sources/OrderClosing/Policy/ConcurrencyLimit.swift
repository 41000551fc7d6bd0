/// How many calls to WeChat Pay may be in flight: grows while upstream latency stays flat and
/// shrinks on pushback, bounded by `floor` and the configured ceiling (`throughput.concurrency`).
/// An additive-increase / multiplicative-decrease rule with a latency signal, in the manner of TCP
/// Vegas and Netflix's concurrency-limits (AIMD and gradient limiters). Pure: the caller feeds it
/// each finished call and reads `limit`.
///
/// | signal (per finished call)                               | limit becomes                         |
/// |----------------------------------------------------------|---------------------------------------|
/// | success, latency ≤ 2 × baseline, limit used ≥ half       | + 1 per `limit` successes (+1 per RTT); doubled per RTT until the first backoff (slow start) |
/// | success, limit used < half                               | unchanged (no evidence it is needed)  |
/// | success, latency > 2 × baseline (queueing upstream)      | × 0.9, at most once per baseline RTT  |
/// | FREQUENCY_LIMITED, HTTP 429 or 5xx, timeout              | × 0.75, at most once per baseline RTT |
/// | not delivered (outage), no answer needed                 | unchanged                             |
///
/// The baseline is the lowest latency seen in the current window of 500 samples (then the window
/// starts again), so a slower upstream is learnt within one window. Starting point: the ceiling's
/// quarter, at least `floor`.
public struct ConcurrencyLimit: Sendable, Hashable {
    public enum Sample: Sendable, Hashable {
        case success(latencyMs: Int64)
        case pushback
        case ignored
    }

    public let floor: Int
    public let ceiling: Int
    public private(set) var value: Double
    private var slowStart = true
    private var successesThisRound = 0
    private var baselineMs: Int64?
    private var windowMinMs: Int64 = .max
    private var windowSamples = 0
    private var lastDecreaseAt: Int64?
    static let windowSize = 500

    public init(ceiling: Int, floor: Int = 8) {
        self.ceiling = max(ceiling, 1)
        self.floor = min(max(floor, 1), self.ceiling)
        self.value = Double(max(self.floor, self.ceiling / 4))
    }

    /// The whole number of calls allowed in flight now.
    public var limit: Int { max(floor, min(ceiling, Int(value))) }

    /// Feeds one finished call; `inFlight` is how many were running when it finished.
    public mutating func record(_ sample: Sample, inFlight: Int, now: Int64) {
        switch sample {
        case .ignored:
            return
        case .pushback:
            decrease(by: 0.75, now: now)
        case .success(let latency):
            noteLatency(latency)
            if let baselineMs, latency > 2 * max(baselineMs, 1) {
                decrease(by: 0.9, now: now)
                return
            }
            guard inFlight * 2 >= limit else { return }
            successesThisRound += 1
            guard successesThisRound >= limit else { return }
            successesThisRound = 0
            value = min(Double(ceiling), slowStart ? value * 2 : value + 1)
        }
    }

    private mutating func decrease(by factor: Double, now: Int64) {
        slowStart = false
        successesThisRound = 0
        // One decrease per round trip: the calls already in flight report the same congestion.
        if let lastDecreaseAt, now - lastDecreaseAt < (baselineMs ?? 0) { return }
        lastDecreaseAt = now
        value = max(Double(floor), value * factor)
    }

    private mutating func noteLatency(_ latency: Int64) {
        windowMinMs = min(windowMinMs, latency)
        windowSamples += 1
        baselineMs = min(baselineMs ?? latency, latency)
        if windowSamples >= Self.windowSize {
            // Forget older minima, so a slower upstream becomes the new normal within a window.
            baselineMs = windowMinMs
            windowSamples = 0
            windowMinMs = .max
        }
    }
}
