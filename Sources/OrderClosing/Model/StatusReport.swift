/// `closeorderd status` as data, the same from every store: counts, times as unix ms, circuits
/// as `PublishedCircuit`, heartbeats as `DaemonRecord`. The shell words and formats it.
public struct StatusReport: Sendable, Hashable {
    /// The oldest overdue order.
    public struct Overdue: Sendable, Hashable {
        public let outTradeNo: String
        public let mchID: String
        /// Its own due time (unix ms).
        public let dueMs: Int64

        public init(outTradeNo: String, mchID: String, dueMs: Int64) {
            self.outTradeNo = outTradeNo
            self.mchID = mchID
            self.dueMs = dueMs
        }
    }

    /// A merchant's circuit as a daemon published it, while it is current.
    public struct Circuit: Sendable, Hashable {
        public let circuit: PublishedCircuit
        /// When it was published (unix ms).
        public let publishedMs: Int64

        public init(_ circuit: PublishedCircuit, publishedMs: Int64) {
            self.circuit = circuit
            self.publishedMs = publishedMs
        }
    }

    /// The store's "now" the report was read at (PostgreSQL's clock there): what is overdue,
    /// stale and current is judged at it, and so are the ages the shell shows.
    public let now: Int64
    /// Every status, 0 if none.
    public let counts: [OrderStatus: Int]
    /// Undecided orders past their own due time.
    public let overdue: Int
    public let oldestOverdue: Overdue?
    public let inDoubt: Int
    /// Orders that ended `failed` in the last 24 hours: each needs a person (requeue or abandon).
    public let failedLastDay: Int
    /// Merchant circuits the daemons published and that still hold (`PublishedCircuit.isCurrent`:
    /// not over, and written by a daemon whose heartbeat is live): mch_id (or mch_id/sub_mch_id) → circuit.
    public let circuits: [String: Circuit]
    /// Merchants paused by an operator: mch_id → reason.
    public let pauses: [String: String]
    /// Every daemon that announced itself, in key order, last seen at its row's write.
    public let daemons: [DaemonRecord]
    /// Other facts the daemons published (heartbeat, endpoint): key → value.
    public let facts: [String: String]

    /// `state` is `daemon_state` in key order.
    public init(
        now: Int64, counts: [OrderStatus: Int] = [:], overdue: Int = 0, oldestOverdue: Overdue? = nil, inDoubt: Int = 0,
        failedLastDay: Int = 0, state: [DaemonStateRow]
    ) {
        self.now = now
        self.counts = Dictionary(uniqueKeysWithValues: OrderStatus.allCases.map { ($0, counts[$0] ?? 0) })
        self.overdue = overdue
        self.oldestOverdue = oldestOverdue
        self.inDoubt = inDoubt
        self.failedLastDay = failedLastDay
        var published: [(key: String, circuit: Circuit)] = []
        var pauses: [String: String] = [:]
        var daemons: [DaemonRecord] = []
        var facts: [String: String] = [:]
        for row in state {
            switch row {
            case .circuit(let key, let circuit, let publishedMs):
                published.append((key, Circuit(circuit, publishedMs: publishedMs)))
            case .pause(let mchID, let reason): pauses[mchID] = reason
            case .daemon(let record): daemons.append(record)
            case .fact(let key, let value): facts[key] = value
            }
        }
        let live = Set(daemons.filter { !$0.isStale(now: now) }.map(\.owner))
        var circuits: [String: Circuit] = [:]
        for (key, circuit) in published where circuit.circuit.isCurrent(now: now, liveOwners: live) {
            circuits[key] = circuit
        }
        self.circuits = circuits
        self.pauses = pauses
        self.daemons = daemons
        self.facts = facts
    }

    /// How far back `failedLastDay` looks, in ms.
    public static let failedWindowMs: Int64 = 86_400_000
}
