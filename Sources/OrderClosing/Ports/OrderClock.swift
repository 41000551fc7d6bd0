/// Wall-clock time for the daemon's decisions, injected so tests can move it by hand.
///
/// Times are unix milliseconds: they are compared with `created_at` and stored in the database.
public protocol OrderClock: Sendable {
    func now() -> Int64
    /// Returns at or after `deadline` (unix ms); throws `CancellationError` when cancelled.
    func sleep(until deadline: Int64) async throws
}

/// The system clock. Timers run on the monotonic clock, so a sleep is cut into steps of at most
/// `maximumStepMs` and a wall-clock jump (NTP stepping the time) delays a wake by at most one step.
///
/// | step  | wakes per idle minute (one sleeper) | worst delay after a jump |
/// |-------|-------------------------------------|--------------------------|
/// | 1 s   | 60                                  | 1 s                      |
/// | 5 s   | 12                                  | 5 s (= the default poll) |
///
/// The closing loop never sleeps longer than its poll interval anyway, so a step as long as the
/// default poll costs nothing in accuracy and saves four wake-ups in five when idle (issue P3).
public struct SystemOrderClock: OrderClock {
    public static let maximumStepMs: Int64 = 5_000

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
            try await Task.sleep(for: .milliseconds(min(remaining, Self.maximumStepMs)))
        }
    }
}

#if canImport(Glibc)
    import Glibc
#endif
