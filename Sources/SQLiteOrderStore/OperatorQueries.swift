import Foundation
import GRDB
import OrderClosing

/// What `closeorderd status`, `show` and `requeue` ask of the database. Full scans are fine here:
/// an operator runs these by hand, unlike the daemon's heartbeat.
public struct OperatorQueries: Sendable {
    let pool: DatabasePool
    let due: DuePolicy

    public init(pool: DatabasePool, due: DuePolicy = .standard) {
        self.pool = pool
        self.due = due
    }

    /// Counts by status; overdue orders (undecided and past their own due time, whatever their
    /// retry time — the definition the heartbeat and metrics use); in-doubt orders; circuits; and
    /// every daemon's heartbeat row with its age.
    public func status(now: Int64) async throws -> StatusReport {
        try await pool.read { db in
            var counts = Dictionary(uniqueKeysWithValues: OrderStatus.allCases.map { ($0.rawValue, 0) })
            for row in try Row.fetchAll(db, sql: "SELECT status, count(*) AS n FROM pending_orders GROUP BY status") {
                counts[row["status"]] = row["n"]
            }
            let overdueCount = try Row.fetchOne(db, sql: OverdueSQL.summary, arguments: OverdueSQL.arguments(due, now: now))?["overdue"] as Int? ?? 0
            let oldest = try Row.fetchOne(db, sql: """
                SELECT out_trade_no, mch_id, \(OverdueSQL.ownDue) AS due_ms FROM pending_orders
                WHERE \(OverdueSQL.open) AND \(OverdueSQL.ownDue) <= ? ORDER BY due_ms LIMIT 1
                """, arguments: OverdueSQL.arguments(due, now: now))
            let overdue: StatusReport.Overdue? = oldest.map { row in
                let dueMs: Int64 = row["due_ms"]
                return .init(outTradeNo: row["out_trade_no"], mchID: row["mch_id"], overdueSeconds: Double(now - dueMs) / 1000,
                             dueAt: TimeText.iso8601(dueMs))
            }
            let inDoubt = try Int.fetchOne(db, sql: "SELECT count(*) FROM pending_orders WHERE in_doubt = 1 AND status IN ('pending', 'closing')") ?? 0
            var circuits: [String: StatusReport.Circuit] = [:]
            var daemon: [String: String] = [:]
            var daemons: [StatusReport.Daemon] = []
            var pauses: [String: String] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT key, value, updated_ms FROM daemon_state ORDER BY key") {
                let key: String = row["key"], value: String = row["value"]
                if key.hasPrefix("circuit:") {
                    circuits[String(key.dropFirst(8))] = StatusReport.Circuit(published: value, updatedMs: row["updated_ms"])
                } else if key.hasPrefix("pause:") {
                    pauses[String(key.dropFirst(6))] = value
                } else if key.hasPrefix("daemon:"),
                          var record = try? JSONDecoder().decode(DaemonRecord.self, from: Data(value.utf8)) {
                    record.lastSeenMs = row["updated_ms"]
                    daemons.append(StatusReport.Daemon(record, now: now))
                } else {
                    daemon[key] = value
                }
            }
            let failedRecently = try Int.fetchOne(db, sql: "SELECT count(*) FROM pending_orders WHERE status = 'failed' AND finished_ms >= ?",
                                                  arguments: [now - 86_400_000]) ?? 0
            return StatusReport(counts: counts, overdue: overdueCount, oldestOverdue: overdue, inDoubt: inDoubt, failedLastDay: failedRecently,
                                circuits: circuits, pauses: pauses, daemons: daemons, daemon: daemon)
        }
    }

    /// The order's row(s) — one per merchant using that out_trade_no — with their attempts, oldest first.
    public func show(outTradeNo: String, mchID: String? = nil) async throws -> [OrderDetail] {
        try await pool.read { db in
            var sql = "SELECT * FROM pending_orders WHERE out_trade_no = ?"
            var arguments: StatementArguments = [outTradeNo]
            if let mchID { sql += " AND mch_id = ?"; arguments += [mchID] }
            return try Row.fetchAll(db, sql: sql + " ORDER BY mch_id", arguments: arguments).map { row in
                let attempts = try Row.fetchAll(db, sql: "SELECT * FROM close_attempts WHERE order_id = ? ORDER BY id",
                                                arguments: [row["id"] as Int64])
                return OrderDetail(order: Self.fields(row), attempts: attempts.map(Self.fields))
            }
        }
    }

    /// Moves failed orders back to pending with a fresh attempt budget; they are due at once.
    /// Each named order that is not moved is reported with the reason (not failed, or no such order).
    public func requeue(outTradeNos: [String], mchID: String?, allFailed: Bool, now: Int64, dryRun: Bool = false) async throws -> RequeueReport {
        try await apply(.requeue, to: OrderSelection(outTradeNos: outTradeNos, mchID: mchID, all: allFailed), now: now, dryRun: dryRun)
    }

    static func fields(_ row: Row) -> [String: FieldValue] {
        var fields: [String: FieldValue] = [:]
        for column in row.columnNames {
            switch row[column] as DatabaseValue? {
            case .none: fields[column] = .null
            case .some(let value):
                switch value.storage {
                case .null: fields[column] = .null
                case .int64(let number): fields[column] = .int(number)
                case .double(let number): fields[column] = .double(number)
                case .string(let text): fields[column] = .text(text)
                case .blob: fields[column] = .text("<blob>")
                }
            }
        }
        return fields
    }
}

/// `closeorderd status` as data.
public struct StatusReport: Sendable, Codable {
    public struct Overdue: Sendable, Codable {
        public let outTradeNo: String
        public let mchID: String
        public let overdueSeconds: Double
        /// ISO-8601, UTC.
        public let dueAt: String
    }

    /// A merchant's circuit as the daemon published it.
    public struct Circuit: Sendable, Codable {
        /// `closed`, `open`, `half_open`, or `paused` (its key cannot be used).
        public let state: String
        /// ISO-8601: when an open circuit is probed again.
        public let until: String?
        public let reason: String?
        /// ISO-8601: when it was published.
        public let since: String

        /// Reads what `ClosingService` publishes: `open until ISO: reason`, `paused: reason`,
        /// `half_open`, `closed`.
        init(published text: String, updatedMs: Int64) {
            since = TimeText.iso8601(updatedMs)
            if text.hasPrefix("open until "), let colon = text.range(of: ": ") {
                state = "open"
                until = String(text[text.index(text.startIndex, offsetBy: 11)..<colon.lowerBound])
                reason = String(text[colon.upperBound...])
            } else if text.hasPrefix("paused: ") {
                (state, until, reason) = ("paused", nil, String(text.dropFirst(8)))
            } else {
                (state, until, reason) = (text, nil, nil)
            }
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

        init(_ record: DaemonRecord, now: Int64) {
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
}

/// What `requeue` did: how many orders it moved, and each named order it left alone, with why.
public struct RequeueReport: Sendable, Codable {
    public struct Skipped: Sendable, Codable, Hashable {
        public let outTradeNo: String
        /// nil when no order has that out_trade_no.
        public let mchID: String?
        public let reason: String
    }

    public let moved: Int
    public let skipped: [Skipped]
}

/// One order and its attempts, column by column.
public struct OrderDetail: Sendable, Codable {
    public let order: [String: FieldValue]
    public let attempts: [[String: FieldValue]]
}

/// A column value as JSON sees it.
public enum FieldValue: Sendable, Codable, Hashable, CustomStringConvertible {
    case null, int(Int64), double(Double), text(String)

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .int(let value): try container.encode(value)
        case .double(let value): try container.encode(value)
        case .text(let value): try container.encode(value)
        }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null }
        else if let value = try? container.decode(Int64.self) { self = .int(value) }
        else if let value = try? container.decode(Double.self) { self = .double(value) }
        else { self = .text(try container.decode(String.self)) }
    }

    public var description: String {
        switch self {
        case .null: ""
        case .int(let value): String(value)
        case .double(let value): String(value)
        case .text(let value): value
        }
    }
}
