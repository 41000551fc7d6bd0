/// `closeorderd status` as data, the same from every store.
public struct StatusReport: Sendable, Codable {
    public struct Overdue: Sendable, Codable {
        public let outTradeNo: String
        public let mchID: String
        public let overdueSeconds: Double
        /// ISO-8601, UTC.
        public let dueAt: String

        /// The oldest overdue order, due at `dueMs`, seen at `now` (unix ms).
        public init(outTradeNo: String, mchID: String, dueMs: Int64, now: Int64) {
            self.outTradeNo = outTradeNo
            self.mchID = mchID
            overdueSeconds = Double(now - dueMs) / 1000
            dueAt = TimeText.iso8601(dueMs)
        }
    }

    /// A merchant's circuit as a daemon published it (`PublishedCircuit`), while it is current.
    public struct Circuit: Sendable, Codable {
        /// `open`, or `paused` (its key cannot be used).
        public let state: String
        /// ISO-8601: when an open circuit is probed again.
        public let until: String?
        public let reason: String?
        /// ISO-8601: when it was published.
        public let since: String
        /// The daemon that published it.
        public let owner: String?

        public init(_ circuit: PublishedCircuit, updatedMs: Int64) {
            state = circuit.state.rawValue
            until = circuit.untilMs.map(TimeText.iso8601)
            reason = circuit.reason
            since = TimeText.iso8601(updatedMs)
            owner = circuit.owner
        }

        /// One line for people.
        public var text: String {
            [state, until.map { "until \($0)" }, reason].compactMap { $0 }.joined(separator: ", ")
        }
    }

    /// One daemon's heartbeat row, as `status` shows it.
    public struct Daemon: Sendable, Codable {
        public let owner: String
        public let host: String
        public let pid: Int32
        public let version: String
        public let startedAt: String
        public let lastSeenAt: String
        public let lastSeenSecondsAgo: Int64
        /// Missed three heartbeats: stopped without a clean exit, hung, or cut off from the database.
        public let stale: Bool

        public init(_ record: DaemonRecord, now: Int64) {
            owner = record.owner
            host = record.host
            pid = record.pid
            version = record.version
            startedAt = TimeText.iso8601(record.startedMs)
            lastSeenAt = TimeText.iso8601(record.lastSeenMs)
            lastSeenSecondsAgo = max(0, (now - record.lastSeenMs) / 1000)
            stale = record.isStale(now: now)
        }
    }

    /// The rows of `daemon_state` sorted into what `status` shows, by key prefix:
    ///
    /// | key prefix  | becomes                                  |
    /// |-------------|------------------------------------------|
    /// | `circuit:`  | `circuits` (published, still current)    |
    /// | `pause:`    | `pauses` (an operator's reason)          |
    /// | `daemon:`   | `daemons` (a heartbeat row, if readable) |
    /// | other       | `daemon` (heartbeat, endpoint …)         |
    public struct DaemonState: Sendable {
        public var circuits: [String: Circuit] = [:]
        public var pauses: [String: String] = [:]
        public var daemons: [Daemon] = []
        public var other: [String: String] = [:]

        /// `rows` in key order; `decode` reads a heartbeat row's JSON (nil if it cannot). Circuits
        /// that are no longer current (`PublishedCircuit.isCurrent`: the pause is over, the daemon
        /// that wrote it stopped) are left out.
        public init(rows: [(key: String, value: String, updatedMs: Int64)], now: Int64, decode: (String) -> DaemonRecord?) {
            var published: [(key: String, circuit: PublishedCircuit, updatedMs: Int64)] = []
            for row in rows {
                if row.key.hasPrefix("circuit:") {
                    published.append((String(row.key.dropFirst(8)), PublishedCircuit(published: row.value), row.updatedMs))
                } else if row.key.hasPrefix("pause:") {
                    pauses[String(row.key.dropFirst(6))] = row.value
                } else if row.key.hasPrefix("daemon:"), var record = decode(row.value) {
                    record.lastSeenMs = row.updatedMs
                    daemons.append(Daemon(record, now: now))
                } else {
                    other[row.key] = row.value
                }
            }
            let live = Set(daemons.filter { !$0.stale }.map(\.owner))
            for (key, circuit, updatedMs) in published where circuit.isCurrent(now: now, liveOwners: live) {
                circuits[key] = Circuit(circuit, updatedMs: updatedMs)
            }
        }
    }

    public let counts: [String: Int]
    /// Undecided orders past their own due time.
    public let overdue: Int
    public let oldestOverdue: Overdue?
    public let inDoubt: Int
    /// Orders that ended `failed` in the last 24 hours: each needs a person (requeue or abandon).
    public let failedLastDay: Int
    /// Merchant circuits the daemons published: mch_id (or mch_id/sub_mch_id) → its state.
    public let circuits: [String: Circuit]
    /// Merchants paused by an operator: mch_id → reason.
    public let pauses: [String: String]
    /// Every daemon that announced itself, oldest name first.
    public let daemons: [Daemon]
    /// Other facts the daemon published (heartbeat, endpoint).
    public let daemon: [String: String]

    /// `counts` by status (every status present, 0 if none).
    public init(
        counts: [OrderStatus: Int], overdue: Int, oldestOverdue: Overdue?, inDoubt: Int, failedLastDay: Int, state: DaemonState
    ) {
        self.counts = Dictionary(uniqueKeysWithValues: OrderStatus.allCases.map { ($0.rawValue, counts[$0] ?? 0) })
        self.overdue = overdue
        self.oldestOverdue = oldestOverdue
        self.inDoubt = inDoubt
        self.failedLastDay = failedLastDay
        circuits = state.circuits
        pauses = state.pauses
        daemons = state.daemons
        daemon = state.other
    }

    /// How far back `failedLastDay` looks, in ms.
    public static let failedWindowMs: Int64 = 86_400_000
}
