import GRDB
import OrderClosing

/// The app's side of the table on SQLite: the README's INSERT and "mark paid", so the schema's
/// CHECKs and triggers judge each row. A refused statement undoes only itself (SQLite's ABORT),
/// so the batch's other rows still go in, in the same transaction.
extension SQLiteOrderStore: OrderIntake {
    static let intakeSQL = """
        INSERT INTO pending_orders (mch_id, appid, out_trade_no, sub_mch_id, sub_appid, created_at, timeout_seconds)
        VALUES (?, ?, ?, ?, ?, ?, ?)
        """

    static let markPaidSQL = """
        UPDATE pending_orders SET status = 'paid'
        WHERE mch_id = ? AND out_trade_no = ? AND status IN ('pending', 'closing')
        """

    public func insert(_ orders: [NewOrder]) async throws -> [IntakeResult] {
        guard !orders.isEmpty else { return [] }
        return try await pool.write { db in
            try orders.map { order in
                do {
                    try db.execute(
                        sql: Self.intakeSQL,
                        arguments: [
                            order.mchID, order.appID, order.outTradeNo, order.subMchID, order.subAppID, order.createdAt,
                            order.timeoutSeconds,
                        ])
                    return .inserted(id: db.lastInsertedRowID)
                } catch let error as DatabaseError where error.resultCode == .SQLITE_CONSTRAINT {
                    // The message only: GRDB's description would add the statement.
                    return .refused(reason: error.message ?? "a constraint of pending_orders refused the row")
                }
            }
        }
    }

    public func markPaid(mchID: String, outTradeNo: String) async throws -> Bool {
        try await pool.write { db in
            try db.execute(sql: Self.markPaidSQL, arguments: [mchID, outTradeNo])
            return db.changesCount > 0
        }
    }
}
