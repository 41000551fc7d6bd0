/// How hard the worker pushes. Defaults are chosen from the benchmarks (BENCHMARKS.md).
public struct ClosingSettings: Sendable, Hashable {
    /// The most calls to WeChat Pay in flight at once: the ceiling of the adaptive limit
    /// (`ConcurrencyLimit`), which starts at a quarter of it and grows while latency stays flat.
    /// 256 lets 1,000 orders due in the same second clear within 250 ms at 50 ms upstream latency.
    public var concurrency: Int = 256
    /// The adaptive limit never goes below this (nor above `concurrency`).
    public var concurrencyFloor: Int = 8
    /// Orders claimed per transaction; the outcomes of as many finished calls ride in the same
    /// transaction. 16 takes commits per close from 1 to 0.063 and most of the CPU saving (1,718 →
    /// 4,794 closes/s); 32 or 64 gain little more and hold the write lock longer, which the
    /// merchant's own INSERTs feel (BENCHMARKS.md, sweep and P5).
    public var batchSize: Int = 16
    /// How long a claim is leased; a crashed daemon's orders are rescued after it.
    public var leaseMs: Int64 = 60_000
    /// The worst case of one attempt (a close and a query: `TimeBudget.attemptMs`). A claimed
    /// order starts only while its lease has this much left; otherwise it is given back.
    public var attemptMs: Int64 = 30_000
    /// How often the worker looks for rows it was not told about (new or back-dated ones). Every
    /// order is due at least 5 minutes after it is written, so a slow poll loses nothing; it only
    /// delays rows written already overdue. At 5 s an idle daemon used 0.36 ms CPU per second (P3).
    public var pollIntervalMs: Int64 = 5_000
    /// After SIGTERM, in-flight calls get this long to finish before they are cancelled.
    public var shutdownGraceMs: Int64 = 15_000
    /// A name for this daemon's leases, e.g. `host:pid`.
    public var owner: String = "closeorderd"

    public init() {}
}
