import Foundation
import GRDB
import OrderClosing

/// The outcome feed on SQLite (migration 8): the cursor query, and the stamp every write
/// transaction of closeorderd gives the rows it finishes.
///
/// SQLite has one writer at a time, and a write transaction reads the newest committed state (in
/// WAL mode a transaction whose snapshot is older cannot write at all). So a stamp of
/// `max(now, newest finished_ms + 1)`, read inside the write transaction, is above every stamp
/// committed before it, and one read of the index per transaction is all it costs.
extension SQLiteOrderStore: OutcomeFeed {
    public func finishedOrders(after cursor: FeedCursor, limit: Int) async throws -> [FinishedOrder] {
        try await pool.read { db in try SQLiteFeed.finishedOrders(db, after: cursor, limit: limit) }
    }

    public func feedEnd() async throws -> FeedCursor {
        try await pool.read { db in try SQLiteFeed.end(db) }
    }

    /// The `finished_ms` for the rows this write transaction finishes: `now`, or the newest
    /// committed stamp + 1 when that is later (a batch that waited for the write lock, another
    /// in the same millisecond, a clock stepped back). Call it inside the transaction, once.
    static func feedStamp(_ db: Database, now: Int64) throws -> Int64 {
        max(now, (try Int64.fetchOne(db.cachedStatement(sql: SQLiteFeed.newestStamp)) ?? 0) + 1)
    }

    /// `feedStamp` when a write finishes an order (a retry stamps nothing: `now` as it was).
    static func feedStamp(for writes: [OrderWrite], _ db: Database, now: Int64) throws -> Int64 {
        let finishes = writes.contains { write in
            switch write.change {
            case .finish, .contradiction: true
            case .retry: false
            }
        }
        return finishes ? try feedStamp(db, now: now) : now
    }

    /// `feedStamp` for `abandon` (it finishes orders); `now` for the other actions.
    static func feedStamp(for action: OrderAction, _ db: Database, now: Int64) throws -> Int64 {
        if case .abandon = action { return try feedStamp(db, now: now) }
        return now
    }
}

/// The feed's SQL, over any GRDB connection (the store's pool, or `SQLiteFeedReader`'s one connection).
public enum SQLiteFeed {
    /// Rows after a cursor: one range of the index `pending_orders_feed`.
    public static let query = """
        SELECT id, finished_ms, mch_id, sub_mch_id, out_trade_no, status, outcome, transaction_id, conflict, last_error, attempts
        FROM pending_orders
        WHERE finished_ms IS NOT NULL AND (finished_ms, id) > (?, ?) AND status NOT IN ('pending', 'closing')
        ORDER BY finished_ms, id
        LIMIT ?
        """

    /// The newest stamp (the index's last entry).
    static let newestStamp = "SELECT max(finished_ms) FROM pending_orders WHERE finished_ms IS NOT NULL"

    static func finishedOrders(_ db: Database, after cursor: FeedCursor, limit: Int) throws -> [FinishedOrder] {
        try Row.fetchAll(db.cachedStatement(sql: query), arguments: [cursor.finishedMs, cursor.id, limit]).map { row in
            FinishedOrder(
                id: row["id"], finishedMs: row["finished_ms"], mchID: row["mch_id"], subMchID: row["sub_mch_id"],
                outTradeNo: row["out_trade_no"], status: OrderStatus(rawValue: row["status"]) ?? .failed,
                outcome: row["outcome"], transactionID: row["transaction_id"], conflict: row["conflict"],
                lastError: row["last_error"], attempts: row["attempts"])
        }
    }

    static func end(_ db: Database) throws -> FeedCursor {
        guard
            let row = try Row.fetchOne(
                db,
                sql: """
                    SELECT finished_ms, id FROM pending_orders WHERE finished_ms IS NOT NULL
                    ORDER BY finished_ms DESC, id DESC LIMIT 1
                    """)
        else { return .start }
        return FeedCursor(finishedMs: row["finished_ms"], id: row["id"])
    }
}

/// What `closeorderd watch` reads a SQLite file with: one read-only connection, so that
/// `PRAGMA data_version` (which changes when another connection commits) can be compared from one
/// check to the next. `waitForCommit` checks it every `interval`: a read of the WAL index in
/// shared memory, no query of the table, so the watcher costs next to nothing while it waits.
public final class SQLiteFeedReader: OutcomeFeed, @unchecked Sendable {
    let queue: DatabaseQueue

    public init(path: String, busyTimeoutSeconds: Double = 5) throws {
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(busyTimeoutSeconds)
        configuration.label = "closeorderd.watch"
        configuration.qos = .default
        queue = try DatabaseQueue(path: path, configuration: configuration)
    }

    public func finishedOrders(after cursor: FeedCursor, limit: Int) async throws -> [FinishedOrder] {
        try await queue.read { db in try SQLiteFeed.finishedOrders(db, after: cursor, limit: limit) }
    }

    public func feedEnd() async throws -> FeedCursor {
        try await queue.read { db in try SQLiteFeed.end(db) }
    }

    /// SQLite's count of commits by other connections, as this connection sees it.
    public func dataVersion() throws -> Int64 {
        try queue.inDatabase { db in try Int64.fetchOne(db, sql: "PRAGMA data_version") ?? 0 }
    }

    /// Returns once another connection has committed since `version` was read (the new version),
    /// checking every `interval`; or nil when the task is cancelled.
    public func waitForCommit(after version: Int64, interval: Duration = .milliseconds(20)) async throws -> Int64? {
        while !Task.isCancelled {
            let now = try dataVersion()
            if now != version { return now }
            try? await Task.sleep(for: interval)
        }
        return nil
    }
}
