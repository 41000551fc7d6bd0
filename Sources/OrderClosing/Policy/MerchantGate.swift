/// Which merchants' orders may be claimed now, and how many: circuits (per merchant, or per
/// sub-merchant in service-provider mode), merchants that cannot be served (a key that did not
/// load), and rate tokens. Pure: `now` is passed in; the loop logs the changes it returns.
///
/// | merchant is …                          | its orders in a claim            | wakes the loop at    |
/// |----------------------------------------|----------------------------------|----------------------|
/// | unavailable (no key loaded)            | none                             | —                    |
/// | paused by an operator                  | none                             | —                    |
/// | out of rate tokens                     | none                             | next token           |
/// | short of a batch in rate tokens (n)    | at most n                        | —                    |
/// | circuit open for a (sub-)merchant      | none of that (sub-)merchant      | end of the pause     |
/// | circuit half-open (its probe decides)  | none of that (sub-)merchant      | the probe's answer   |
/// | circuit closed, a probe wanted         | up to the claim's limit          | the probe's time     |
/// | otherwise                              | up to the claim's limit          | —                    |
///
/// Probes (`MerchantCircuit`: one in flight per circuit) are handed out by `probesToSend`.
public struct MerchantGate: Sendable {
    public enum Change: Sendable, Hashable {
        case opened(CircuitKey, until: Int64, reason: String)
        case halfOpen(CircuitKey)
        case closed(CircuitKey)
    }

    public private(set) var circuits: [CircuitKey: MerchantCircuit] = [:]
    public private(set) var unavailable: [String: String]
    /// Paused by an operator (`closeorderd pause`): mch_id → reason.
    public private(set) var paused: [String: String] = [:]
    private var buckets: [String: TokenBucket] = [:]

    public init(merchants: [MerchantProfile], unavailable: [String: String] = [:]) {
        for merchant in merchants {
            buckets[merchant.mchID] = TokenBucket(ratePerSecond: merchant.ratePerSecond, burst: merchant.burst)
        }
        self.unavailable = unavailable
    }

    /// What the next claim may take, moving circuits whose pause ended to half-open.
    public mutating func claimRequest(limit: Int, now: Int64) -> (request: ClaimRequest, changes: [Change]) {
        var request = ClaimRequest(limit: limit, excludedMerchants: Set(unavailable.keys).union(paused.keys))
        var changes: [Change] = []
        for (key, var circuit) in circuits {
            let (admitted, changed) = circuit.admits(now: now)
            circuits[key] = circuit
            if changed { changes.append(.halfOpen(key)) }
            if !admitted { request.excludedCircuits.insert(key) }
        }
        for (mchID, var bucket) in buckets where !request.excludedMerchants.contains(mchID) {
            let tokens = bucket.available(now: now)
            buckets[mchID] = bucket
            if tokens == 0 {
                request.excludedMerchants.insert(mchID)
            } else if tokens < limit {
                request.merchantLimits[mchID] = tokens
            }
        }
        return (request, changes)
    }

    /// A reload's new merchants: rate buckets for new or changed limits, the rest kept; circuits kept.
    public mutating func update(merchants: [MerchantProfile], unavailable: [String: String]) {
        var buckets: [String: TokenBucket] = [:]
        for merchant in merchants {
            if let old = self.buckets[merchant.mchID], old.ratePerSecond == merchant.ratePerSecond,
                old.burst == max(merchant.burst, 1)
            {
                buckets[merchant.mchID] = old
            } else {
                buckets[merchant.mchID] = TokenBucket(ratePerSecond: merchant.ratePerSecond, burst: merchant.burst)
            }
        }
        self.buckets = buckets
        self.unavailable = unavailable
    }

    /// Replaces the operators' pauses; returns the merchants newly paused and those resumed.
    public mutating func setPaused(_ now: [String: String]) -> (paused: [String: String], resumed: [String]) {
        let added = now.filter { paused[$0.key] != $0.value }
        let removed = paused.keys.filter { now[$0] == nil }.sorted()
        paused = now
        return (added, removed)
    }

    /// Takes one rate token per claimed order: their calls start now.
    public mutating func started(_ orders: [ClaimedOrder], now: Int64) {
        var perMerchant: [String: Int] = [:]
        for order in orders { perMerchant[order.mchID, default: 0] += 1 }
        for (mchID, count) in perMerchant where buckets[mchID] != nil {
            buckets[mchID]!.take(count, now: now)
        }
    }

    /// The earliest time something excluded now may be claimed again: an open circuit's end, or
    /// the next token of a merchant that has none.
    public mutating func nextChange(now: Int64) -> Int64? {
        var times: [Int64] = circuits.compactMap { key, circuit in
            if case .open(let until, _) = circuit.state { return until }
            guard unavailable[key.mchID] == nil, paused[key.mchID] == nil else { return nil }
            return circuit.probeTime.map { max($0, now) }
        }
        for (mchID, var bucket) in buckets where unavailable[mchID] == nil {
            let at = bucket.nextTokenAt(now: now)
            buckets[mchID] = bucket
            if at > now { times.append(at) }
        }
        return times.min()
    }

    /// Feeds one answer to its circuit; returns the change worth a log line, if any.
    public mutating func record(_ signal: CircuitSignal, for key: CircuitKey, now: Int64) -> Change? {
        var circuit = circuits[key] ?? MerchantCircuit()
        defer { circuits[key] = circuit }
        switch signal {
        case .none:
            return nil
        case .configurationError(let reason):
            guard circuit.recordConfigurationError(reason, now: now), case .open(let until, _) = circuit.state else { return nil }
            return .opened(key, until: until, reason: reason)
        case .orderRefused(let orderID, let appID):
            _ = circuit.recordOrderRefused(orderID: orderID, appID: appID, now: now)
            return nil
        case .healthy:
            return circuit.recordHealthy() ? .closed(key) : nil
        }
    }

    /// The probes that may go now, each marked in flight (at most one per circuit).
    public mutating func probesToSend(now: Int64) -> [MerchantProbe] {
        var probes: [MerchantProbe] = []
        for (key, var circuit) in circuits where circuit.probeTime.map({ $0 <= now }) ?? false {
            guard unavailable[key.mchID] == nil, paused[key.mchID] == nil, circuit.startProbe(now: now) else { continue }
            circuits[key] = circuit
            probes.append(MerchantProbe(key: key, appID: circuit.probeAppID))
        }
        return probes.sorted { $0.key < $1.key }
    }

    /// Feeds a probe's verdict to its circuit; returns the change worth a log line, if any.
    public mutating func record(_ verdict: MerchantProbe.Verdict, of probe: MerchantProbe, now: Int64) -> Change? {
        var circuit = circuits[probe.key] ?? MerchantCircuit()
        defer { circuits[probe.key] = circuit }
        guard circuit.recordProbe(verdict, now: now) else { return nil }
        switch circuit.state {
        case .open(let until, let reason): return .opened(probe.key, until: until, reason: reason)
        case .closed: return .closed(probe.key)
        case .halfOpen: return nil
        }
    }
}

/// What one answer says about its merchant's setup.
public enum CircuitSignal: Sendable, Hashable {
    /// A verified answer about the order: the merchant's setup works.
    case healthy
    /// A merchant-wide setup fault (wrong key, SIGNERROR, …): pause the merchant.
    case configurationError(String)
    /// WeChat refused this order's own parameters: the order's fault; if many new orders get it,
    /// a probe (asked as `appID`) decides whether the merchant's setup is at fault.
    case orderRefused(orderID: Int64, appID: String)
    /// Nothing learnt (no answer, an answer not believed, 5xx or pushback, or no call made).
    case none
}
