import GRDB
import OrderClosing

/// Claims: one statement per batch, and, when one row's values make that statement fail, the
/// same batch row by row, so that row ends `failed` with the reason and the others are claimed
/// (issue 21: a row's error is that row's, never an outage of the queue).
extension SQLiteOrderStore {
    /// One `UPDATE … WHERE id IN (SELECT … LIMIT n) RETURNING`: the due rows, leased and counted.
    /// If one row makes that statement fail (`isOneRowsFault`), the batch is claimed row by row
    /// instead, and the row that fails ends `failed` with the reason: never an outage of the queue.
    func claimBatch(
        _ db: Database, now: Int64, limit: Int, lease: Lease, excludedMerchants: Set<String>,
        excludedCircuits: Set<CircuitKey>, onlyMerchant: String?
    ) throws -> [ClaimedOrder] {
        let filter = Self.filter(
            excludedMerchants: excludedMerchants, excludedCircuits: excludedCircuits, onlyMerchant: onlyMerchant)
        do {
            // A statement that fails undoes only itself (SQLite's ABORT): the transaction goes on.
            return try claim(db, now: now, limit: limit, lease: lease, filter: filter, onlyID: nil)
        } catch let error as DatabaseError where Self.isOneRowsFault(error) {
            var arguments: StatementArguments = [now]
            arguments += due.arguments
            arguments += [now]
            arguments += filter.arguments
            arguments += [limit]
            let candidates = try Int64.fetchAll(
                db,
                sql: """
                    SELECT id FROM pending_orders
                    WHERE status = 'pending' AND next_attempt_ms <= ? AND \(due.sql) <= ? \(filter.sql)
                    ORDER BY next_attempt_ms LIMIT ?
                    """, arguments: arguments)
            var claimed: [ClaimedOrder] = []
            for id in candidates {
                do {
                    claimed += try claim(db, now: now, limit: 1, lease: lease, filter: filter, onlyID: id)
                } catch let rowError as DatabaseError where Self.isOneRowsFault(rowError) {
                    fail(db, id: id, now: now, because: rowError.message ?? "\(rowError.resultCode)")
                }
            }
            return claimed
        }
    }

    /// Errors a row's own values cause (a constraint, a value out of range), as opposed to the
    /// database's (busy, I/O, a missing table), which stay outages of the queue.
    static func isOneRowsFault(_ error: DatabaseError) -> Bool {
        [.SQLITE_CONSTRAINT, .SQLITE_MISMATCH, .SQLITE_TOOBIG].contains(error.resultCode)
    }

    /// Ends a row that cannot be claimed `failed`, with the reason, and says so in the log.
    func fail(_ db: Database, id: Int64, now: Int64, because reason: String) {
        let text = UnclaimableRow.lastError(reason)
        let row = try? Row.fetchOne(
            db,
            sql: """
                UPDATE pending_orders
                SET status = 'failed', finished_ms = ?, in_doubt = 0, last_error = ?,
                    lease_owner = NULL, lease_token = NULL, lease_expires_ms = NULL
                WHERE id = ? AND status = 'pending'
                RETURNING mch_id, out_trade_no
                """, arguments: [(try? Self.feedStamp(db, now: now)) ?? now, text, id])
        UnclaimableRow.log(
            logger, id: id, mchID: row?["mch_id"], outTradeNo: row?["out_trade_no"], reason: reason, failed: row != nil)
    }

    /// The claim itself; `onlyID` narrows it to one row (the row-by-row path).
    func claim(
        _ db: Database, now: Int64, limit: Int, lease: Lease, filter: (sql: String, arguments: StatementArguments),
        onlyID: Int64?
    ) throws -> [ClaimedOrder] {
        let sql = Self.claimSQL(due: due, filter: filter.sql, oneRow: onlyID != nil)
        var arguments: StatementArguments = [lease.owner, lease.token, lease.until, now, now, now]
        arguments += due.arguments
        arguments += [now]
        arguments += filter.arguments
        if let onlyID { arguments += [onlyID] }
        arguments += [limit]
        return try Row.fetchAll(db.cachedStatement(sql: sql), arguments: arguments).map { row in
            ClaimedOrder(
                id: row["id"], mchID: row["mch_id"], appID: row["appid"], outTradeNo: row["out_trade_no"],
                subMchID: row["sub_mch_id"], subAppID: row["sub_appid"], createdAt: row["created_at"],
                timeoutSeconds: row["timeout_seconds"], attempt: row["attempts"], inDoubt: row["in_doubt"],
                firstAttemptAt: row["first_attempt_ms"], leaseToken: lease.token)
        }
    }

    /// The claim's statement: the due rows (`filter`: `AND …` over merchants and circuits; `oneRow`
    /// adds `AND id = ?`), leased and counted, returned.
    static func claimSQL(due: DueSQL, filter: String, oneRow: Bool) -> String {
        """
        UPDATE pending_orders
        SET status = 'closing', lease_owner = ?, lease_token = ?, lease_expires_ms = ?,
            attempts = attempts + 1, first_attempt_ms = coalesce(first_attempt_ms, ?), last_attempt_ms = ?
        WHERE id IN (
            SELECT id FROM pending_orders
            WHERE status = 'pending' AND next_attempt_ms <= ? AND \(due.sql) <= ? \(filter)\(oneRow ? " AND id = ?" : "")
            ORDER BY next_attempt_ms LIMIT ?)
        RETURNING id, mch_id, appid, out_trade_no, sub_mch_id, sub_appid, created_at, timeout_seconds,
                  attempts, in_doubt, first_attempt_ms
        """
    }
}
