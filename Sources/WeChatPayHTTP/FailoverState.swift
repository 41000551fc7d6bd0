/// Which endpoint a call should use: the primary, the backup, or the primary as a probe.
///
/// | state   | a call's plan                                 | primary unreachable      | primary answers |
/// |---------|-----------------------------------------------|--------------------------|-----------------|
/// | primary | primary, then backup                          | → backup, probe in 30 s  | stays           |
/// | backup  | backup; one call per 30 s tries primary first | probe again in 30 s      | → primary       |
///
/// "Unreachable" is a DNS, connect or TLS handshake error before any byte of the request was
/// written, or a timeout after it was; an HTTP answer of any kind is reachable. What was written is
/// evidence from the request itself (`TransportFailure`), never the error's type name. Within one
/// call the plan's next endpoint is tried only when nothing can have left this machine
/// (`triesNextEndpoint`): one call is at most one POST that may have reached WeChat, so it is one
/// audit row and never two closes of the same order in one attempt (issue 10, defect 7; issue 21).
///
/// | failure on an endpoint                                   | unreachable | may have been sent | this call          | later calls        |
/// |----------------------------------------------------------|-------------|--------------------|--------------------|--------------------|
/// | DNS, connect refused/timeout, TLS handshake: nothing written | yes     | no                 | next endpoint      | backup (failed over) |
/// | timeout after the request was written, before an answer  | yes         | yes                | ends: timeout after sending | backup (failed over) |
/// | anything else after it was written (reset, closed, TLS unclean shutdown, a cut answer) | no | yes | ends | unchanged |
/// | this machine's: connection pool full, cancelled (shutdown) | no        | no                 | ends, not delivered | unchanged         |
///
/// Pure: the caller passes `now` (unix ms) and logs the returned changes.
public struct FailoverState: Sendable, Hashable {
    public enum Endpoint: Sendable, Hashable { case primary, backup }
    public enum Change: Sendable, Hashable { case failedOver, returnedToPrimary }

    public private(set) var usingBackup = false
    private var nextProbeAt: Int64 = 0
    let hasBackup: Bool
    let probeIntervalMs: Int64

    public init(hasBackup: Bool, probeIntervalMs: Int64) {
        self.hasBackup = hasBackup
        self.probeIntervalMs = probeIntervalMs
    }

    /// The endpoints to try for one call, in order.
    public mutating func plan(now: Int64) -> [Endpoint] {
        guard hasBackup else { return [.primary] }
        guard usingBackup else { return [.primary, .backup] }
        if now >= nextProbeAt {
            nextProbeAt = now + probeIntervalMs
            return [.primary, .backup]
        }
        return [.backup]
    }

    /// Whether a call moves on to the next endpoint of its plan after a transport failure: only when
    /// the endpoint looks down and the request cannot have left this machine.
    public static func triesNextEndpoint(unreachable: Bool, mayHaveBeenSent: Bool) -> Bool {
        unreachable && !mayHaveBeenSent
    }

    /// Records whether `endpoint` was reachable; returns a change of state worth logging.
    public mutating func report(_ endpoint: Endpoint, reachable: Bool, now: Int64) -> Change? {
        guard hasBackup, endpoint == .primary else { return nil }
        if reachable, usingBackup {
            usingBackup = false
            return .returnedToPrimary
        }
        if !reachable, !usingBackup {
            usingBackup = true
            nextProbeAt = now + probeIntervalMs
            return .failedOver
        }
        return nil
    }
}
