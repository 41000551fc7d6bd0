import GRDB

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// How closeorderd waits for a write lock the merchant's app holds (`database.busy_timeout_ms`).
///
/// SQLite's own busy handler sleeps 1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50 ms and then 100 ms
/// between tries. Against an app that commits often and holds the lock most of the time (200
/// INSERTs a second on a slow disk), a waiter that wakes every 100 ms keeps missing the short gaps
/// between the app's transactions: the daemon's claims waited out their whole timeout, backed
/// off, and it closed 60 orders a second instead of thousands (BENCHMARKS.md, "P5 on a busy host").
/// A try that finds the lock taken costs microseconds, so this one tries at a short fixed step:
///
/// | setting                      | value                                            |
/// |------------------------------|--------------------------------------------------|
/// | sleep between tries          | 1 ms                                             |
/// | tries before `SQLITE_BUSY`   | the busy timeout ÷ 1 ms (5,000 at the default 5 s) |
/// | a timeout of 0               | no wait: `SQLITE_BUSY` at once                   |
///
/// Like SQLite's handler it counts the sleeps it asked for, not the wall clock, so on a host so
/// loaded that a 1 ms sleep lasts longer, the wait lasts longer too.
public struct LockWait: Sendable, Equatable {
    /// The sleep between two tries, in microseconds.
    public static let stepMicroseconds: UInt32 = 1_000

    /// How many times the lock is tried again before the statement fails with `SQLITE_BUSY`.
    public let retries: Int

    public init(timeoutSeconds: Double) {
        let steps = (max(0, timeoutSeconds) * 1_000_000 / Double(Self.stepMicroseconds)).rounded(.up)
        retries = steps < Double(Int.max) ? Int(steps) : Int.max
    }

    /// Whether the statement that has found the lock taken `tries` times already should try again.
    public func triesAgain(after tries: Int) -> Bool { tries < retries }

    /// GRDB's busy mode for this wait.
    public var busyMode: Database.BusyMode {
        guard retries > 0 else { return .immediateError }
        let wait = self
        return .callback { tries in
            guard wait.triesAgain(after: tries) else { return false }
            usleep(Self.stepMicroseconds)
            return true
        }
    }
}
