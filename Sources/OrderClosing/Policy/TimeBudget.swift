/// How long one claimed order can take, worst case, from its claim to its outcome — the number
/// a lease must outlast, or another daemon rescues an order that is still in flight and sends it
/// twice. `check-config` refuses a lease shorter than an attempt; the loop starts an order only
/// while its lease covers an attempt, so a slow slot costs a re-claim, never a double send. Below
/// `claimToOutcomeMs` (one call's wait plus an attempt) it warns: orders may be given back often.
///
/// | stage                    | worst case                                   | defaults (5 s / 10 s, failover) |
/// |--------------------------|----------------------------------------------|---------------------------------|
/// | rate-limit wait          | 0: tokens are taken at claim                 | 0 s                             |
/// | wait for a free slot     | lease − attempt: a claimed order whose lease | 30 s (then given back unsent)   |
/// |                          | cannot cover an attempt is never started     |                                 |
/// | close                    | connect to the primary + the backup's total  | 15 s                            |
/// | query (ORDERPAID, codes) | the same again                               | 15 s                            |
/// | claim to outcome         | at most the lease                            | 60 s (lease 60 s)               |
///
/// Without failover a call is bounded by `total_timeout_ms` alone. Shutdown's grace should let a
/// call finish; a call cut short by it is recorded in doubt and closed again later.
public struct TimeBudget: Sendable, Hashable {
    public let connectTimeoutMs: Int64
    public let totalTimeoutMs: Int64
    public let failover: Bool
    public let leaseMs: Int64
    public let shutdownGraceMs: Int64

    public init(connectTimeoutMs: Int64, totalTimeoutMs: Int64, failover: Bool, leaseMs: Int64, shutdownGraceMs: Int64) {
        self.connectTimeoutMs = connectTimeoutMs
        self.totalTimeoutMs = totalTimeoutMs
        self.failover = failover
        self.leaseMs = leaseMs
        self.shutdownGraceMs = shutdownGraceMs
    }

    /// One HTTP call: a failed connect to the primary, then the backup's whole deadline.
    public var callMs: Int64 { (failover ? min(connectTimeoutMs, totalTimeoutMs) : 0) + totalTimeoutMs }
    /// A close and, when the answer needs one, a query.
    public var attemptMs: Int64 { 2 * callMs }
    /// From the claim (the lease's start) to the outcome.
    public var claimToOutcomeMs: Int64 { callMs + attemptMs }

    public enum Finding: Sendable, Hashable {
        case error(String)
        case warning(String)
    }

    /// What `check-config` says about these numbers.
    public var findings: [Finding] {
        var findings: [Finding] = []
        if leaseMs < attemptMs {
            findings.append(
                .error(
                    "schedule.lease_ms (\(leaseMs)) is shorter than one attempt can take (\(attemptMs) ms: a close and a query of "
                        + "\(callMs) ms each); another daemon could rescue an order still in flight and send it twice"))
        } else if leaseMs < claimToOutcomeMs {
            findings.append(
                .warning(
                    "schedule.lease_ms (\(leaseMs)) is shorter than the worst case from claim to outcome (\(claimToOutcomeMs) ms); "
                        + "under load another daemon may rescue an order whose call is still running"))
        }
        if shutdownGraceMs < callMs {
            findings.append(
                .warning(
                    "shutdown.grace_ms (\(shutdownGraceMs)) is shorter than one call (\(callMs) ms): a stop may cut calls short "
                        + "(they are recorded in doubt and closed again later)"))
        }
        return findings
    }
}
