import OrderClosing
import PostgresNIO

/// The app's side of the table on PostgreSQL: the README's INSERT and "mark paid", so the named
/// CHECKs and triggers judge each row (and migration 2's trigger NOTIFYs the daemons). A refused
/// row aborts PostgreSQL's whole transaction, so each row runs under a savepoint: a row's own
/// fault (SQLSTATE class 22 or 23) rolls back to it, and the batch's other rows still go in.
extension PostgresOrderStore: OrderIntake {
    public func insert(_ orders: [NewOrder]) async throws -> [IntakeResult] {
        guard !orders.isEmpty else { return [] }
        let logger = logger
        return try await transaction { connection in
            var results: [IntakeResult] = []
            for order in orders {
                try await connection.send("SAVEPOINT intake_row", logger: logger)
                do {
                    let rows = try await connection.send(
                        """
                        INSERT INTO pending_orders
                            (mch_id, appid, out_trade_no, sub_mch_id, sub_appid, created_at, timeout_seconds)
                        VALUES (\(order.mchID), \(order.appID), \(order.outTradeNo), \(order.subMchID), \(order.subAppID),
                                \(order.createdAt), \(order.timeoutSeconds))
                        RETURNING id
                        """, logger: logger)
                    guard let id = try rows.first?.decode(Int64.self) else {
                        throw PostgresStoreError("INSERT … RETURNING id returned no row")
                    }
                    try await connection.send("RELEASE SAVEPOINT intake_row", logger: logger)
                    results.append(.inserted(id: id))
                } catch  where PostgresStoreError.isOneRowsFault(sqlState: PostgresStoreError.sqlState(of: error)) {
                    try await connection.send("ROLLBACK TO SAVEPOINT intake_row", logger: logger)
                    results.append(.refused(reason: PostgresStoreError.reason(error)))
                }
            }
            return results
        }
    }

    public func markPaid(mchID: String, outTradeNo: String) async throws -> Bool {
        let logger = logger
        let rows = try await connection { connection in
            try await connection.send(
                """
                UPDATE pending_orders SET status = 'paid'
                WHERE mch_id = \(mchID) AND out_trade_no = \(outTradeNo) AND status IN ('pending', 'closing')
                RETURNING id
                """, logger: logger)
        }
        return !rows.isEmpty
    }
}
