/// A per-merchant (or per-sub-merchant) circuit: configuration errors (wrong key, SIGNERROR) are
/// the merchant's, not the order's, so the merchant is paused instead of burning every order's
/// attempts. A refusal of one order's parameters is that order's alone — unless `strikeLimit`
/// different orders in a row are refused with no healthy answer between: then the fault is the
/// merchant's after all (design.md §3: "a FAIL that other orders of the merchant do not get").
///
/// | state     | claims               | on config error                    | on the 3rd order refused in a row | on a healthy answer |
/// |-----------|----------------------|------------------------------------|-----------------------------------|---------------------|
/// | closed    | all                  | open for 60 s                      | open for 60 s                     | stays closed        |
/// | open      | none until reopenAt  | —                                  | —                                 | —                   |
/// | half-open | yes (probes, refunded)| open again, pause doubled (≤ 15 min)| open again, pause doubled        | closed              |
public struct MerchantCircuit: Sendable, Hashable {
    public enum State: Sendable, Hashable {
        case closed
        case open(until: Int64, reason: String)
        case halfOpen(reason: String)
    }

    public static let firstPauseMs: Int64 = 60_000
    public static let maxPauseMs: Int64 = 15 * 60_000

    public static let strikeLimit = 3

    public private(set) var state: State = .closed
    private var pauseMs: Int64 = firstPauseMs
    /// Orders refused in a row since the last healthy answer.
    private var refusedOrders: Set<Int64> = []

    public init() {}

    /// Whether claims may include this merchant at `now`, moving open → half-open when the pause ends.
    /// Returns the state change, if any, so it is logged once.
    public mutating func admits(now: Int64) -> (admitted: Bool, changed: Bool) {
        switch state {
        case .closed: return (true, false)
        case .halfOpen: return (true, false)
        case .open(let until, let reason):
            guard now >= until else { return (false, false) }
            state = .halfOpen(reason: reason)
            return (true, true)
        }
    }

    /// Records a configuration error; returns true if the state changed.
    public mutating func recordConfigurationError(_ reason: String, now: Int64) -> Bool {
        switch state {
        case .closed:
            pauseMs = Self.firstPauseMs
        case .halfOpen:
            pauseMs = min(pauseMs * 2, Self.maxPauseMs)
        case .open:
            // Answers to calls already in flight when it opened: keep the pause.
            return false
        }
        state = .open(until: now + pauseMs, reason: reason)
        return true
    }

    /// Records that WeChat refused one order's parameters; returns true if that opened the circuit.
    public mutating func recordOrderRefused(orderID: Int64, reason: String, now: Int64) -> Bool {
        refusedOrders.insert(orderID)
        guard refusedOrders.count >= Self.strikeLimit else { return false }
        refusedOrders.removeAll()
        return recordConfigurationError("\(Self.strikeLimit) different orders refused in a row, so the merchant's setup is suspect: \(reason)", now: now)
    }

    /// Records an answer that was not a configuration error; returns true if the state changed.
    public mutating func recordHealthy() -> Bool {
        refusedOrders.removeAll()
        guard state != .closed else { return false }
        if case .open = state { return false }
        state = .closed
        pauseMs = Self.firstPauseMs
        return true
    }

    public var label: String {
        switch state {
        case .closed: "closed"
        case .open: "open"
        case .halfOpen: "half_open"
        }
    }
}
