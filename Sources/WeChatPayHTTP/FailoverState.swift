/// Which endpoint a call should use: the primary, the backup, or the primary as a probe.
///
/// | state   | a call tries                                 | primary unreachable      | primary answers |
/// |---------|----------------------------------------------|--------------------------|-----------------|
/// | primary | primary, then backup at once                 | → backup, probe in 30 s  | stays           |
/// | backup  | backup; one call per 30 s tries primary first | probe again in 30 s     | → primary       |
///
/// "Unreachable" is a DNS, connect or TLS error or a timeout; an HTTP answer of any kind is reachable.
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
