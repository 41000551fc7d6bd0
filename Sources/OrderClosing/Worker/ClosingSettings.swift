/// How hard the worker pushes. Defaults are chosen from the benchmarks (BENCHMARKS.md).
public struct ClosingSettings: Sendable, Hashable {
    /// Calls to WeChat Pay in flight at once.
    public var concurrency: Int = 64
    /// Orders claimed per transaction; results are written in batches of the same size.
    public var batchSize: Int = 16
    /// How long a claim is leased; a crashed daemon's orders are rescued after it.
    public var leaseMs: Int64 = 60_000
    /// How often the worker looks for rows it was not told about (new or back-dated ones).
    public var pollIntervalMs: Int64 = 1_000
    /// After SIGTERM, in-flight calls get this long to finish before they are cancelled.
    public var shutdownGraceMs: Int64 = 15_000
    /// A name for this daemon's leases, e.g. `host:pid`.
    public var owner: String = "closeorderd"

    public init() {}
}
