import OrderClosing
import PostgresNIO

/// Claims: one statement per batch, and, when one row's values make that statement fail, the
/// same batch row by row, so that row ends `failed` with the reason and the others are claimed
/// (issue 21: a row's error is that row's, never an outage of the queue).
extension PostgresOrderStore {
    /// One `UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING`: the due rows, leased
    /// and counted. A row another daemon is claiming right now is skipped, not waited for; the
    /// locked row is checked again after the lock, so a row claimed meanwhile is not taken twice.
    /// `rowByRow`: each candidate in its own savepoint (the retry after a row's fault).
    func claimBatch(
        _ connection: PostgresConnection, now: Int64, limit: Int, lease: Lease, excludedMerchants: Set<String>,
        excludedCircuits: Set<CircuitKey>, onlyMerchant: String?, rowByRow: Bool
    ) async throws -> [ClaimedOrder] {
        let filter = Filter(excludedMerchants: excludedMerchants, excludedCircuits: excludedCircuits, onlyMerchant: onlyMerchant)
        guard rowByRow else {
            return try await claim(connection, now: now, limit: limit, lease: lease, filter: filter, onlyID: nil)
        }
        var claimed: [ClaimedOrder] = []
        for id in try await candidates(connection, now: now, limit: limit, filter: filter) {
            do {
                claimed += try await savepoint(connection) {
                    try await claim(connection, now: now, limit: 1, lease: lease, filter: filter, onlyID: id)
                }
            } catch let error where PostgresStoreError.isOneRowsFault(sqlState: PostgresStoreError.sqlState(of: error)) {
                await fail(connection, id: id, now: now, because: PostgresStoreError.reason(error))
            }
        }
        return claimed
    }

    struct Filter {
        let excludedMerchants: Set<String>, excludedCircuits: Set<CircuitKey>, onlyMerchant: String?

        func sql(in statement: inout PostgresStatement) -> String {
            PostgresDueSQL.filter(
                excludedMerchants: excludedMerchants, excludedCircuits: excludedCircuits,
                onlyMerchant: onlyMerchant, in: &statement)
        }
    }

    /// The claim itself; `onlyID` narrows it to one row.
    func claim(
        _ connection: PostgresConnection, now: Int64, limit: Int, lease: Lease, filter: Filter,
        onlyID: Int64?
    ) async throws -> [ClaimedOrder] {
        var statement = PostgresStatement()
        let clock = ClockSQL(self.clock, callerNow: now, in: &statement)
        let (owner, token, until) = (statement.bind(lease.owner), statement.bind(lease.token), statement.bind(lease.until))
        let due = self.due.due(in: &statement)
        var filterSQL = filter.sql(in: &statement)
        if let onlyID { filterSQL += " AND id = \(statement.bind(onlyID))::bigint" }
        let limit = statement.bind(limit)
        let rows = try await connection.send(
            statement.query(
                """
                UPDATE pending_orders
                SET status = 'closing', lease_owner = \(owner)::text, lease_token = \(token)::text,
                    lease_expires_ms = \(clock.shifted(until)), attempts = attempts + 1,
                    first_attempt_ms = coalesce(first_attempt_ms, \(clock.now)), last_attempt_ms = \(clock.now)
                WHERE id IN (
                    SELECT id FROM pending_orders
                    WHERE status = 'pending' AND next_attempt_ms <= \(clock.now) AND \(due) <= \(clock.now) \(filterSQL)
                    ORDER BY next_attempt_ms LIMIT \(limit)
                    FOR UPDATE SKIP LOCKED)
                RETURNING id, mch_id, appid, out_trade_no, sub_mch_id, sub_appid, created_at, timeout_seconds,
                          attempts, in_doubt, first_attempt_ms
                """), logger: logger)
        return try rows.map { row in
            let row = row.makeRandomAccess()
            return ClaimedOrder(
                id: try row.value("id"), mchID: try row.value("mch_id"), appID: try row.value("appid"),
                outTradeNo: try row.value("out_trade_no"), subMchID: try row.value("sub_mch_id"),
                subAppID: try row.value("sub_appid"), createdAt: try row.value("created_at"),
                timeoutSeconds: try row.value("timeout_seconds"), attempt: try row.value("attempts"),
                inDoubt: try row.value("in_doubt", as: Int.self) != 0,
                firstAttemptAt: try row.value("first_attempt_ms"), leaseToken: lease.token)
        }
    }

    /// The rows the batch would take. If computing a due time fails on a row (no row the schema
    /// admits does since version 5), the rows in index order instead, each then tried on its own.
    func candidates(_ connection: PostgresConnection, now: Int64, limit: Int, filter: Filter) async throws -> [Int64] {
        func select(dueOnly: Bool) -> PostgresQuery {
            var statement = PostgresStatement()
            let clock = ClockSQL(self.clock, callerNow: now, in: &statement)
            let due = dueOnly ? "AND \(self.due.due(in: &statement)) <= \(clock.now)" : ""
            let filterSQL = filter.sql(in: &statement)
            let limit = statement.bind(limit)
            return statement.query(
                """
                SELECT id FROM pending_orders
                WHERE status = 'pending' AND next_attempt_ms <= \(clock.now) \(due) \(filterSQL)
                ORDER BY next_attempt_ms LIMIT \(limit)
                """)
        }
        func ids(_ query: PostgresQuery) async throws -> [Int64] {
            try await connection.send(query, logger: logger).map { try $0.decode(Int64.self) }
        }
        do {
            return try await savepoint(connection) {
                try await ids(select(dueOnly: true))
            }
        } catch let error where PostgresStoreError.isOneRowsFault(sqlState: PostgresStoreError.sqlState(of: error)) {
            return try await ids(select(dueOnly: false))
        }
    }

    /// Ends a row that cannot be claimed `failed`, with the reason, and says so in the log.
    func fail(_ connection: PostgresConnection, id: Int64, now: Int64, because reason: String) async {
        var statement = PostgresStatement()
        let clock = ClockSQL(self.clock, callerNow: now, in: &statement)
        let (text, row) = (statement.bind(UnclaimableRow.lastError(reason)), statement.bind(id))
        let query = statement.query(
            """
            UPDATE pending_orders
            SET status = 'failed', finished_ms = \(clock.now), in_doubt = 0, last_error = \(text)::text,
                lease_owner = NULL, lease_token = NULL, lease_expires_ms = NULL
            WHERE id = \(row)::bigint AND status = 'pending'
            RETURNING mch_id, out_trade_no
            """)
        let named = try? await savepoint(connection) {
            try await connection.send(query, logger: logger).first.map { try $0.decode((String, String).self) }
        }
        UnclaimableRow.log(logger, id: id, mchID: named?.0, outTradeNo: named?.1, reason: reason, failed: named != nil)
    }

    /// Runs `body` in a savepoint: if it throws, only its own work is undone and the transaction
    /// goes on (PostgreSQL otherwise refuses every later statement of a failed transaction).
    func savepoint<T: Sendable>(_ connection: PostgresConnection, _ body: () async throws -> T) async throws -> T {
        try await connection.send("SAVEPOINT closeorderd_row", logger: logger)
        do {
            let result = try await body()
            try await connection.send("RELEASE SAVEPOINT closeorderd_row", logger: logger)
            return result
        } catch {
            try await connection.send("ROLLBACK TO SAVEPOINT closeorderd_row", logger: logger)
            try await connection.send("RELEASE SAVEPOINT closeorderd_row", logger: logger)
            throw error
        }
    }
}
