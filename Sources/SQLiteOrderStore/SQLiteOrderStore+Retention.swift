import GRDB
import OrderClosing

/// Retention on SQLite: finished orders found through `pending_orders_finished` (migration 4),
/// deleted with their attempts in one short transaction per batch; space given back by
/// incremental vacuum when the database is in that mode (`SQLiteDatabase.useIncrementalVacuum`).
extension SQLiteOrderStore {
    /// A finished row's finish time; the index's expression and WHERE (migration 7: finished is
    /// "not pending or closing"), word for word, so SQLite uses it. A failed row with a `conflict`
    /// (WeChat contradicted itself about money) waits for a person and is kept.
    static let finishedBefore = """
        status NOT IN ('pending', 'closing') AND coalesce(finished_ms, created_at * 1000) < ? \
        AND (status <> 'failed' OR conflict IS NULL)
        """

    /// The oldest `limit` finished rows before the cutoff (an index range, oldest first).
    static let oldestFinished = """
        SELECT id FROM pending_orders WHERE \(finishedBefore)
        ORDER BY coalesce(finished_ms, created_at * 1000) LIMIT ?
        """

    public func pruneFinishedOrders(finishedBefore cutoff: Int64, limit: Int) async throws -> PrunedOrders {
        guard limit > 0 else { return PrunedOrders() }
        return try await pool.write { db in
            // The attempts first: the foreign key's ON DELETE CASCADE needs foreign_keys on, which
            // the merchant's connection may not set; and this way they are counted.
            try db.cachedStatement(sql: "DELETE FROM close_attempts WHERE order_id IN (\(Self.oldestFinished))")
                .execute(arguments: [cutoff, limit])
            let attempts = db.changesCount
            let statuses = try String.fetchAll(
                db.cachedStatement(
                    sql: """
                        DELETE FROM pending_orders WHERE id IN (\(Self.oldestFinished)) RETURNING status
                        """), arguments: [cutoff, limit])
            return PrunedOrders(orders: Self.counted(statuses), attempts: attempts)
        }
    }

    public func countFinishedOrders(finishedBefore cutoff: Int64) async throws -> PrunedOrders {
        try await pool.read { db in
            let rows = try Row.fetchAll(
                db, sql: "SELECT status, count(*) AS n FROM pending_orders WHERE \(Self.finishedBefore) GROUP BY status",
                arguments: [cutoff])
            let attempts =
                try Int.fetchOne(
                    db,
                    sql: """
                        SELECT count(*) FROM close_attempts
                        WHERE order_id IN (SELECT id FROM pending_orders WHERE \(Self.finishedBefore))
                        """, arguments: [cutoff]) ?? 0
            var orders: [OrderStatus: Int] = [:]
            for row in rows { if let status = OrderStatus(rawValue: row["status"]) { orders[status] = row["n"] } }
            return PrunedOrders(orders: orders, attempts: attempts)
        }
    }

    public func reclaimFreeSpace(pages: Int) async throws -> Int {
        try await pool.write { db in
            guard try SQLiteDatabase.autoVacuumMode(db) == .incremental else { return 0 }
            try db.execute(sql: "PRAGMA incremental_vacuum(\(max(pages, 1)))")
            return try Int.fetchOne(db, sql: "PRAGMA freelist_count") ?? 0
        }
    }

    static func counted(_ statuses: [String]) -> [OrderStatus: Int] {
        var orders: [OrderStatus: Int] = [:]
        for status in statuses.compactMap(OrderStatus.init(rawValue:)) { orders[status, default: 0] += 1 }
        return orders
    }
}
