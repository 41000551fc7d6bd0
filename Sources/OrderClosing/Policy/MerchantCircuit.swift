/// A per-merchant (or per-sub-merchant) circuit. Configuration errors (wrong key, SIGNERROR) are
/// the merchant's, not the order's: the merchant is paused instead of burning every order's
/// attempts. A refusal of one order's parameters is that order's alone and never pauses anyone by
/// itself (issue 21): when refusals look merchant-wide, a `MerchantProbe` (a query for a made-up
/// order) decides, and only a refused probe pauses. A retry of an order already counted is never
/// new evidence, so a few bad rows retried together cannot look like a merchant-wide fault.
///
/// | event                                        | closed                                         | open       | half-open (orders wait)        |
/// |----------------------------------------------|------------------------------------------------|------------|--------------------------------|
/// | configuration error in an order's answer     | open for 60 s                                  | —          | open, pause doubled (≤ 15 min) |
/// | an order refused, not counted before         | counted; the 3rd in a row asks for a probe     | —          | —                              |
/// | an order refused again (a retry)             | —                                              | —          | —                              |
/// | a verified answer about an order             | count back to 0, probe not needed              | —          | closed                         |
/// | the pause ends                               | —                                              | half-open: probe at once | —                |
/// | probe: proven                                | count back to 0; no probe for 5 min            | —          | closed                         |
/// | probe: refused                               | open for 60 s                                  | —          | open, pause doubled (≤ 15 min) |
/// | probe: no verdict                            | asked again ≥ 10 s later while still suspect   | —          | asked again ≥ 10 s later       |
///
/// At most one probe per circuit is in flight. The last 4,096 counted orders are remembered.
public struct MerchantCircuit: Sendable, Hashable {
    public enum State: Sendable, Hashable {
        case closed
        case open(until: Int64, reason: String)
        /// The pause is over; a probe decides before any order is sent.
        case halfOpen(reason: String)
    }

    public static let firstPauseMs: Int64 = 60_000
    public static let maxPauseMs: Int64 = 15 * 60_000
    /// Distinct orders refused in a row, none counted before, that ask for a probe.
    public static let suspicionThreshold = 3
    /// After a proven probe, refusals are the orders' own without asking again for this long.
    public static let provenHoldMs: Int64 = 5 * 60_000
    /// After a probe without a verdict, the next one waits this long.
    public static let inconclusiveRetryMs: Int64 = 10_000
    /// How many counted orders are remembered, so their retries never count again.
    public static let rememberedOrders = 4_096

    public private(set) var state: State = .closed
    private var pauseMs: Int64 = firstPauseMs
    /// Orders refused (for the first time) since the last verified answer or probe verdict.
    private var suspects: Set<Int64> = []
    /// Orders already counted, oldest first; their later refusals are retries, not evidence.
    private var counted: Set<Int64> = []
    private var countedOrder: [Int64] = []
    /// The appid of the latest refused order: the probe asks with it.
    public private(set) var probeAppID: String?
    /// A probe is wanted (suspicion, or a pause that ended); sent once `now ≥ nextProbeAt`.
    public private(set) var probeWanted = false
    public private(set) var probeInFlight = false
    private var nextProbeAt: Int64 = 0

    public init() {}

    /// Whether claims may include this merchant at `now`, moving open → half-open (probe wanted)
    /// when the pause ends. Returns the state change, if any, so it is logged once.
    public mutating func admits(now: Int64) -> (admitted: Bool, changed: Bool) {
        switch state {
        case .closed: return (true, false)
        case .halfOpen: return (false, false)
        case .open(let until, let reason):
            guard now >= until else { return (false, false) }
            state = .halfOpen(reason: reason)
            probeWanted = true
            nextProbeAt = now
            return (false, true)
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
        suspects.removeAll()
        probeWanted = false
        return true
    }

    /// Records that WeChat refused one order's parameters; returns true if that asked for a probe.
    /// The order's fate is its own (backoff, then `failed`): this never pauses the merchant.
    public mutating func recordOrderRefused(orderID: Int64, appID: String, now: Int64) -> Bool {
        guard state == .closed, !counted.contains(orderID) else { return false }
        remember(orderID)
        suspects.insert(orderID)
        probeAppID = appID
        guard suspects.count >= Self.suspicionThreshold, !probeWanted else { return false }
        probeWanted = true
        return true
    }

    /// Records a verified answer about an order (not a configuration error, not a refusal): it
    /// proves the setup as a probe would. Returns true if the state changed.
    public mutating func recordHealthy() -> Bool {
        suspects.removeAll()
        switch state {
        case .closed:
            if !probeInFlight { probeWanted = false }
            return false
        case .open:
            return false
        case .halfOpen:
            close()
            return true
        }
    }

    /// Marks the wanted probe as sent, if one may go at `now`.
    public mutating func startProbe(now: Int64) -> Bool {
        guard probeWanted, !probeInFlight, now >= nextProbeAt else { return false }
        if case .open = state { return false }
        probeInFlight = true
        return true
    }

    /// When a wanted probe may be sent, if it waits for time (nil: none wanted, or one in flight).
    public var probeTime: Int64? {
        guard probeWanted, !probeInFlight else { return nil }
        if case .open = state { return nil }
        return nextProbeAt
    }

    /// Records a probe's verdict; returns true if the state changed.
    public mutating func recordProbe(_ verdict: MerchantProbe.Verdict, now: Int64) -> Bool {
        probeInFlight = false
        switch verdict {
        case .proven:
            suspects.removeAll()
            probeWanted = false
            nextProbeAt = now + Self.provenHoldMs
            guard case .halfOpen = state else { return false }
            close()
            return true
        case .refused(let reason):
            let why =
                state == .closed
                ? "orders were refused, and so was a query for a made-up order" : "a query for a made-up order is still refused"
            return recordConfigurationError("\(why): \(reason)", now: now)
        case .inconclusive:
            nextProbeAt = now + Self.inconclusiveRetryMs
            return false
        }
    }

    public var label: String {
        switch state {
        case .closed: "closed"
        case .open: "open"
        case .halfOpen: "half_open"
        }
    }

    private mutating func close() {
        state = .closed
        pauseMs = Self.firstPauseMs
        probeWanted = false
    }

    private mutating func remember(_ orderID: Int64) {
        counted.insert(orderID)
        countedOrder.append(orderID)
        if countedOrder.count > Self.rememberedOrders {
            let dropped = countedOrder.prefix(Self.rememberedOrders / 2)
            counted.subtract(dropped)
            countedOrder.removeFirst(dropped.count)
        }
    }
}
