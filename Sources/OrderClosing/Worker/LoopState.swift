import Logging

/// What the closing loop keeps between iterations: merchant circuits and rate buckets, and the
/// writes and releases waiting to be flushed. Owned by the loop's task alone.
struct LoopState {
    var circuits: [String: MerchantCircuit] = [:]
    var buckets: [String: TokenBucket] = [:]
    var pending: [OrderWrite] = []
    var unstarted: [ClaimedOrder] = []
    /// Claimed and leased, waiting for a free slot: one batch ahead, so a finished call is
    /// replaced at once instead of after a claim's round trip to the database.
    var ready: [ClaimedOrder] = []
    var inFlight = 0
    /// The last claim came back short: nothing more is due until the next timer wakes the loop.
    /// While it is false, finished calls drive the loop and no timer or due-time query is needed.
    var drained = false
    /// Set by a timer: read the next due time before claiming, so an idle poll costs a read, not
    /// a write transaction. The answer is kept for `scheduleWaker` in the same iteration:
    /// `.none` when nothing was probed, `.some(nil)` when no order is pending at all.
    var probeBeforeClaim = false
    var probedDueTime: Int64??
    var wakerRunning = false
    var stopping = false
    var graceArmed = false
    var nextRescue: Int64 = 0
    /// While the database refuses work: no claims before this time (unix ms).
    var databaseRetryAt: Int64 = 0
    var databaseFailures = 0

    init(merchants: [MerchantProfile]) {
        for merchant in merchants {
            buckets[merchant.mchID] = TokenBucket(ratePerSecond: merchant.ratePerSecond, burst: merchant.burst)
        }
    }

    /// Merchants whose circuit is open; logs open → half-open once.
    mutating func excludedMerchants(now: Int64, logger: Logger) -> Set<String> {
        var excluded: Set<String> = []
        for (mchID, var circuit) in circuits {
            let (admitted, changed) = circuit.admits(now: now)
            circuits[mchID] = circuit
            if changed { logger.notice("merchant circuit half-open: probing", metadata: ["mch_id": "\(mchID)", "circuit": "half_open"]) }
            if !admitted { excluded.insert(mchID) }
        }
        return excluded
    }

    /// When the next open circuit may be probed.
    func nextCircuitReopen() -> Int64? {
        circuits.values.compactMap { circuit -> Int64? in
            if case .open(let until, _) = circuit.state { return until }
            return nil
        }.min()
    }

    /// When a call for this merchant may start; merchants without a profile are not limited
    /// (their orders fail at once without a call).
    mutating func reserveToken(for mchID: String, now: Int64) -> Int64 {
        guard var bucket = buckets[mchID] else { return now }
        let startAt = bucket.reserve(now: now)
        buckets[mchID] = bucket
        return startAt
    }

    /// Feeds an answer to the merchant's circuit; returns a line for operators when its state changed.
    mutating func apply(_ signal: OrderCloser.CircuitSignal, mchID: String, now: Int64, logger: Logger) -> String? {
        var circuit = circuits[mchID] ?? MerchantCircuit()
        defer { circuits[mchID] = circuit }
        switch signal {
        case .none:
            return nil
        case .configurationError(let reason):
            guard circuit.recordConfigurationError(reason, now: now), case .open(let until, _) = circuit.state else { return nil }
            logger.error("merchant circuit open: configuration error, pausing this merchant's orders",
                         metadata: ["mch_id": "\(mchID)", "circuit": "open", "reason": "\(reason)",
                                    "retry_in_ms": "\(until - now)"])
            ClosingMetrics.circuit(mchID: mchID, open: true)
            return "open until \(until): \(reason)"
        case .healthy:
            guard circuit.recordHealthy() else { return nil }
            logger.notice("merchant circuit closed: answers are healthy again", metadata: ["mch_id": "\(mchID)", "circuit": "closed"])
            ClosingMetrics.circuit(mchID: mchID, open: false)
            return "closed"
        }
    }
}
