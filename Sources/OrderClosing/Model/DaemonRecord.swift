/// One running daemon, as it announces itself in the database (one heartbeat row per daemon), so
/// `status` can list every daemon on the database with its age, and a daemon can tell a dead
/// neighbour on its own host from a live one.
public struct DaemonRecord: Sendable, Hashable, Codable {
    /// The lease owner name: `host:pid:instance`.
    public let owner: String
    public let host: String
    public let pid: Int32
    /// The kernel's boot id: a pid means nothing across a reboot.
    public let bootID: String
    public let version: String
    public let startedMs: Int64
    /// How often it beats; a row older than three of these is stale.
    public let intervalSeconds: Int
    /// Set by the store from the row's write time.
    public var lastSeenMs: Int64

    public init(
        owner: String, host: String, pid: Int32, bootID: String, version: String, startedMs: Int64,
        intervalSeconds: Int, lastSeenMs: Int64 = 0
    ) {
        self.owner = owner
        self.host = host
        self.pid = pid
        self.bootID = bootID
        self.version = version
        self.startedMs = startedMs
        self.intervalSeconds = intervalSeconds
        self.lastSeenMs = lastSeenMs
    }

    /// Whether it has missed three beats at `now`.
    public func isStale(now: Int64) -> Bool {
        now - lastSeenMs > Int64(intervalSeconds) * 3_000
    }
}

extension DaemonRecord {
    /// Its row's key in `daemon_state`.
    public static func key(_ owner: String) -> String { "daemon:\(owner)" }
}
