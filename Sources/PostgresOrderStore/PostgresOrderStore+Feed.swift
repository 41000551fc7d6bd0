import Logging
import NIOConcurrencyHelpers
import OrderClosing
import PostgresNIO

/// The outcome feed on PostgreSQL (migration 8): the cursor query, and the channel
/// `closeorderd_outcomes` that wakes a reader. The stamps themselves are the migration's deferred
/// trigger's, taken at COMMIT in commit order, whoever commits (daemons, the app, an operator).
extension PostgresOrderStore: OutcomeFeed {
    /// The channel each finished order is announced on, at the commit that finished it.
    public static let outcomeChannel = "closeorderd_outcomes"

    public func finishedOrders(after cursor: FeedCursor, limit: Int) async throws -> [FinishedOrder] {
        let rows = try await connection { connection in
            try await connection.query(
                """
                SELECT id, finished_ms, mch_id, sub_mch_id, out_trade_no, status, outcome, transaction_id, conflict, last_error, attempts
                FROM pending_orders
                WHERE finished_ms IS NOT NULL AND (finished_ms, id) > (\(cursor.finishedMs)::bigint, \(cursor.id)::bigint)
                  AND status IN ('closed', 'paid', 'failed')
                ORDER BY finished_ms, id
                LIMIT \(limit)::bigint
                """, logger: logger
            ).collect()
        }
        return try rows.map { row in
            let (id, finishedMs, mchID, subMchID, outTradeNo, status, outcome, transactionID, conflict, lastError, attempts) =
                try row.decode((Int64, Int64, String, String?, String, String, String?, String?, String?, String?, Int64).self)
            return FinishedOrder(
                id: id, finishedMs: finishedMs, mchID: mchID, subMchID: subMchID, outTradeNo: outTradeNo,
                status: OrderStatus(rawValue: status) ?? .failed, outcome: outcome, transactionID: transactionID,
                conflict: conflict, lastError: lastError, attempts: Int(attempts))
        }
    }

    public func feedEnd() async throws -> FeedCursor {
        let rows = try await connection { connection in
            try await connection.query(
                """
                SELECT finished_ms, id FROM pending_orders WHERE finished_ms IS NOT NULL
                ORDER BY finished_ms DESC, id DESC LIMIT 1
                """, logger: logger
            ).collect()
        }
        guard let row = rows.first else { return .start }
        let (finishedMs, id) = try row.decode((Int64, Int64).self)
        return FeedCursor(finishedMs: finishedMs, id: id)
    }
}

extension PostgresQueueDatabase {
    /// Wake-ups for a reader of the feed: one when LISTEN starts (and after every reconnection,
    /// for what was committed while nobody listened), then one per notification on
    /// `closeorderd_outcomes` (its payload). A lost connection is retried after 1, 2, 4 … 30 s;
    /// `onTrouble` hears of each failure. Ends when the consuming task is cancelled.
    public func outcomeNotifications(onTrouble: @escaping @Sendable (String) -> Void = { _ in }) -> AsyncStream<String?> {
        let (stream, continuation) = AsyncStream<String?>.makeStream(bufferingPolicy: .bufferingNewest(1024))
        let client = self.client
        let task = Task {
            var failures = 0
            while !Task.isCancelled {
                do {
                    try await client.withConnection { connection in
                        try await connection.listen(on: PostgresOrderStore.outcomeChannel) { notifications in
                            failures = 0
                            continuation.yield(nil)
                            for try await notification in notifications { continuation.yield(notification.payload) }
                        }
                    }
                } catch {
                    if Task.isCancelled { break }
                    failures += 1
                    onTrouble(PostgresStoreError.reason(error))
                }
                try? await Task.sleep(for: .seconds(min(30, 1 << min(failures, 5))))
            }
            continuation.finish()
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    /// One connection, for tests that hold transactions open side by side.
    func withSession<Result: Sendable>(_ body: @escaping @Sendable (PostgresSession) async throws -> Result) async throws
        -> Result
    {
        try await connection { connection in try await body(PostgresSession(connection: connection, logger: logger)) }
    }
}

/// A connection as tests drive it: plain SQL, one statement at a time.
struct PostgresSession: Sendable {
    let connection: PostgresConnection
    let logger: Logger

    func execute(_ sql: String) async throws {
        _ = try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger).collect()
    }

    /// The first column of each row, as text.
    func column(_ sql: String) async throws -> [String?] {
        try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger).collect().map { try $0.decode(String?.self) }
    }
}
