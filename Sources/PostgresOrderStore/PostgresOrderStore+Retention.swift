import OrderClosing
import PostgresNIO

/// Retention on PostgreSQL: the oldest finished orders, found through `pending_orders_finished`
/// (migration 3), deleted with their attempts in one short transaction per batch. Rows another
/// transaction holds are skipped, not waited for. PostgreSQL gives dead rows' space back to the
/// table through autovacuum, so `reclaimFreeSpace` has nothing to do.
extension PostgresOrderStore {
    /// A finished row's finish time; the index's expression, so the planner uses it. A failed row
    /// with a `conflict` (WeChat contradicted itself about money) waits for a person and is kept.
    static let finishedBefore = """
        status IN ('closed', 'paid', 'failed') AND coalesce(finished_ms, created_at * 1000) < $1
        AND (status <> 'failed' OR conflict IS NULL)
        """

    public func pruneFinishedOrders(finishedBefore cutoff: Int64, limit: Int) async throws -> PrunedOrders {
        guard limit > 0 else { return PrunedOrders() }
        var statement = PostgresStatement()
        _ = statement.bind(cutoff)
        _ = statement.bind(limit)
        let select = statement.query(
            """
            SELECT id FROM pending_orders WHERE \(Self.finishedBefore)
            ORDER BY coalesce(finished_ms, created_at * 1000) LIMIT $2
            FOR UPDATE SKIP LOCKED
            """)
        return try await transaction { connection in
            let ids = try await connection.send(select, logger: logger).map { try $0.decode(Int64.self) }
            guard !ids.isEmpty else { return PrunedOrders() }
            let attempts =
                try await connection.send(
                    """
                    WITH gone AS (DELETE FROM close_attempts WHERE order_id = ANY(\(ids)::bigint[]) RETURNING 1)
                    SELECT count(*) FROM gone
                    """, logger: logger
                ).first?.decode(Int64.self) ?? 0
            let statuses = try await connection.send(
                """
                DELETE FROM pending_orders WHERE id = ANY(\(ids)::bigint[]) RETURNING status
                """, logger: logger
            ).map { try $0.decode(String.self) }
            return PrunedOrders(orders: Self.counted(statuses), attempts: Int(attempts))
        }
    }

    public func countFinishedOrders(finishedBefore cutoff: Int64) async throws -> PrunedOrders {
        var statement = PostgresStatement()
        _ = statement.bind(cutoff)
        let query = statement.query(
            """
            SELECT status, count(*) AS n,
                   coalesce(sum((SELECT count(*) FROM close_attempts a WHERE a.order_id = p.id)), 0)::bigint AS attempts
            FROM pending_orders p WHERE \(Self.finishedBefore) GROUP BY status
            """)
        let rows = try await connection { connection in try await connection.send(query, logger: logger) }
        var result = PrunedOrders()
        for row in rows {
            let (status, count, attempts) = try row.decode((String, Int64, Int64).self)
            if let status = OrderStatus(rawValue: status) { result.orders[status] = Int(count) }
            result.attempts += Int(attempts)
        }
        return result
    }

    /// Autovacuum gives the space of deleted rows back to the table on its own.
    public func reclaimFreeSpace(pages: Int) async throws -> Int { 0 }

    static func counted(_ statuses: [String]) -> [OrderStatus: Int] {
        var orders: [OrderStatus: Int] = [:]
        for status in statuses.compactMap(OrderStatus.init(rawValue:)) { orders[status, default: 0] += 1 }
        return orders
    }
}
