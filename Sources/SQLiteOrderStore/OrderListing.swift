import GRDB
import OrderClosing

/// `closeorderd list`: orders matching a filter, newest first, with their due time by the one
/// definition of due. Read by hand; a scan is fine.
public struct OrderFilter: Sendable, Hashable {
    public var status: OrderStatus?
    public var mchID: String?
    /// Undecided and past their own due time (whatever their retry time).
    public var overdueOnly = false
    /// Placed at least this many seconds before `now`.
    public var olderThanSeconds: Int64?
    public var limit = 100

    public init(status: OrderStatus? = nil, mchID: String? = nil, overdueOnly: Bool = false, olderThanSeconds: Int64? = nil, limit: Int = 100) {
        self.status = status
        self.mchID = mchID
        self.overdueOnly = overdueOnly
        self.olderThanSeconds = olderThanSeconds
        self.limit = limit
    }
}

/// One line of `list`.
public struct OrderLine: Sendable, Codable, Hashable {
    public let mchID: String
    public let outTradeNo: String
    public let status: String
    public let outcome: String?
    public let attempts: Int
    public let inDoubt: Bool
    /// ISO-8601 (UTC): when it was placed, when it falls (fell) due, when it is tried next.
    public let createdAt: String
    public let dueAt: String
    public let nextAttemptAt: String?
    /// Seconds past its own due time while undecided; 0 otherwise.
    public let overdueSeconds: Int64
    public let lastError: String?
}

extension OperatorQueries {
    public func list(_ filter: OrderFilter, now: Int64) async throws -> [OrderLine] {
        let ownDue = "(created_at + max(timeout_seconds, \(due.minAgeSeconds)) + \(due.marginSeconds)) * 1000"
        var conditions: [String] = []
        var arguments = StatementArguments()
        if let status = filter.status { conditions.append("status = ?"); arguments += [status.rawValue] }
        if let mchID = filter.mchID { conditions.append("mch_id = ?"); arguments += [mchID] }
        if filter.overdueOnly { conditions.append("status IN ('pending', 'closing') AND \(ownDue) <= ?"); arguments += [now] }
        if let age = filter.olderThanSeconds { conditions.append("created_at <= ?"); arguments += [now / 1000 - age] }
        let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        arguments += [filter.limit]
        return try await pool.read { [arguments] db in
            try Row.fetchAll(db, sql: """
                SELECT mch_id, out_trade_no, status, outcome, attempts, in_doubt, created_at, next_attempt_ms, last_error,
                       \(ownDue) AS due_ms
                FROM pending_orders \(whereClause) ORDER BY created_at DESC, id DESC LIMIT ?
                """, arguments: arguments).map { row in
                let status: String = row["status"], dueMs: Int64 = row["due_ms"], nextMs: Int64 = row["next_attempt_ms"]
                let open = status == OrderStatus.pending.rawValue || status == OrderStatus.closing.rawValue
                return OrderLine(mchID: row["mch_id"], outTradeNo: row["out_trade_no"], status: status, outcome: row["outcome"],
                                 attempts: row["attempts"], inDoubt: row["in_doubt"], createdAt: TimeText.iso8601((row["created_at"] as Int64) * 1000),
                                 dueAt: TimeText.iso8601(dueMs), nextAttemptAt: status == "pending" ? TimeText.iso8601(max(nextMs, dueMs)) : nil,
                                 overdueSeconds: open ? max(0, (now - dueMs) / 1000) : 0, lastError: row["last_error"])
            }
        }
    }

    /// Pauses a merchant for every daemon on this database, with the operator's reason.
    public func pause(mchID: String, reason: String, now: Int64) async throws {
        // The daemons read it back with `OrderStore.pausedMerchants()`.
        try await SQLiteOrderStore(pool: pool, due: due).publish("pause:\(mchID)", reason, now: now)
    }

    /// Resumes a paused merchant; returns whether it was paused.
    public func resume(mchID: String) async throws -> Bool {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM daemon_state WHERE key = ?", arguments: ["pause:\(mchID)"])
            return db.changesCount > 0
        }
    }
}
