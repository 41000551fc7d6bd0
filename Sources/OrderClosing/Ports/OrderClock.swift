/// Wall-clock time for the daemon's decisions, injected so tests can move it by hand.
///
/// Times are unix milliseconds: they are compared with `created_at` and stored in the database.
public protocol OrderClock: Sendable {
    func now() -> Int64
    /// Returns at or after `deadline` (unix ms); throws `CancellationError` when cancelled.
    func sleep(until deadline: Int64) async throws
}

/// The system clock. Sleeps in steps of at most a second so a wall-clock jump is noticed.
public struct SystemOrderClock: OrderClock {
    public init() {}

    public func now() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000
    }

    public func sleep(until deadline: Int64) async throws {
        while true {
            let remaining = deadline - now()
            guard remaining > 0 else { return }
            try await Task.sleep(for: .milliseconds(min(remaining, 1000)))
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
