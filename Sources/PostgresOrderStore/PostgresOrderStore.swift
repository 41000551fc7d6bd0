import Foundation
import Logging
import NIOConcurrencyHelpers
import OrderClosing
import PostgresNIO

/// The `OrderStore` on PostgreSQL, for a queue shared by several app hosts and several daemons.
/// Same semantics as `SQLiteOrderStore` (the conformance suite runs on both): each method is one
/// short transaction; a claim is one `UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED)
/// RETURNING …`, so daemons claiming together skip each other's rows instead of waiting; every
/// later write is a compare-and-set on the claim's lease token. Times: see `PostgresStoreClock`.
public struct PostgresOrderStore: OrderStore {
    let client: PostgresClient
    let due: PostgresDueSQL
    let clock: PostgresStoreClock
    let logger: Logger
    /// The longest a call may go unanswered before its connection is closed (see `connection(_:)`).
    let operationTimeout: Duration
    /// Lease tokens of claims whose COMMIT may have landed though its answer was lost (the
    /// connection dropped): the loop never saw those orders, so the next claim gives them back
    /// (not in doubt: no call was made for them). Without this, a lone daemon would hold them in
    /// `closing` for good, as the rescuer spares the daemon's own leases.
    let unansweredClaims = NIOLockedValueBox<Set<String>>([])

    /// `client` must be running (`client.run()`, or in the daemon's service group).
    public init(
        client: PostgresClient, due: DuePolicy = .standard, clock: PostgresStoreClock = .database,
        operationTimeout: Duration = .seconds(30), logger: Logger = Logger(label: "closeorderd.postgres")
    ) {
        self.client = client
        self.operationTimeout = operationTimeout
        self.due = PostgresDueSQL(policy: due)
        self.clock = clock
        self.logger = logger
    }

    public func recordAndClaim(
        _ writes: [OrderWrite], claim: ClaimRequest, now: Int64,
        leaseOwner: String, leaseUntil: Int64
    ) async throws -> (recorded: [WriteResult], claimed: [ClaimedOrder]) {
        let lease = Lease(owner: leaseOwner, token: UUID().uuidString, until: leaseUntil)
        let unanswered = unansweredClaims.withLockedValue { $0 }
        do {
            let result: (recorded: [WriteResult], claimed: [ClaimedOrder])
            do {
                result = try await transaction { connection in
                    if !unanswered.isEmpty { try await releaseUnanswered(unanswered, on: connection) }
                    return try await claimAndRecord(writes, claim: claim, now: now, lease: lease, rowByRow: false, on: connection)
                }
            } catch let error as PostgresStoreError where error.isOneRowsFault {
                // One row's values failed the batch (issue 21): the same transaction again, its
                // claims row by row, so that row ends failed and the others are claimed.
                result = try await transaction { connection in
                    if !unanswered.isEmpty { try await releaseUnanswered(unanswered, on: connection) }
                    return try await claimAndRecord(writes, claim: claim, now: now, lease: lease, rowByRow: true, on: connection)
                }
            }
            unansweredClaims.withLockedValue { $0.subtract(unanswered) }
            return result
        } catch {
            unansweredClaims.withLockedValue { _ = $0.insert(lease.token) }
            throw error
        }
    }

    /// Gives back claims whose answer was lost; their attempt is not counted.
    func releaseUnanswered(_ tokens: Set<String>, on connection: PostgresConnection) async throws {
        try await connection.send(
            """
            UPDATE pending_orders
            SET status = 'pending', attempts = greatest(attempts - 1, 0),
                lease_owner = NULL, lease_token = NULL, lease_expires_ms = NULL
            WHERE lease_token = ANY(\(tokens.sorted())::text[]) AND status = 'closing'
            """, logger: logger)
    }

    func claimAndRecord(
        _ writes: [OrderWrite], claim: ClaimRequest, now: Int64, lease: Lease, rowByRow: Bool,
        on connection: PostgresConnection
    ) async throws -> (recorded: [WriteResult], claimed: [ClaimedOrder]) {
        let recorded = try await record(writes, now: now, on: connection)
        // Rate-limited merchants first, each up to its tokens, so a backlog elsewhere cannot starve them.
        var claimed: [ClaimedOrder] = []
        for (mchID, limit) in claim.merchantLimits.sorted(by: { $0.key < $1.key })
        where limit > 0 && claimed.count < claim.limit && !claim.excludedMerchants.contains(mchID) {
            claimed += try await claimBatch(
                connection, now: now, limit: min(limit, claim.limit - claimed.count), lease: lease,
                excludedMerchants: [], excludedCircuits: claim.excludedCircuits, onlyMerchant: mchID,
                rowByRow: rowByRow)
        }
        if claimed.count < claim.limit {
            claimed += try await claimBatch(
                connection, now: now, limit: claim.limit - claimed.count, lease: lease,
                excludedMerchants: claim.excludedMerchants.union(claim.merchantLimits.keys),
                excludedCircuits: claim.excludedCircuits, onlyMerchant: nil, rowByRow: rowByRow)
        }
        return (recorded, claimed)
    }

    struct Lease { let owner: String, token: String, until: Int64 }

    public func record(_ writes: [OrderWrite], now: Int64) async throws -> [WriteResult] {
        try await transaction { connection in try await record(writes, now: now, on: connection) }
    }

    public func release(_ orders: [ClaimedOrder], now: Int64) async throws {
        guard !orders.isEmpty else { return }
        try await transaction { connection in
            for order in orders {
                try await connection.send(
                    """
                    UPDATE pending_orders
                    SET status = 'pending', attempts = greatest(attempts - 1, 0),
                        lease_owner = NULL, lease_token = NULL, lease_expires_ms = NULL
                    WHERE id = \(order.id) AND lease_token = \(order.leaseToken) AND status = 'closing'
                    """, logger: logger)
            }
        }
    }

    public func rescueExpiredLeases(now: Int64, sparing: String?) async throws -> [RescuedOrder] {
        try await rescue(now: now, why: LeaseRescue.expired) { statement, clock in
            "lease_expires_ms < \(clock.now) AND lease_owner IS DISTINCT FROM \(statement.bind(sparing))::text"
        }
    }

    public func rescueLeases(heldBy owner: String, now: Int64) async throws -> [RescuedOrder] {
        try await rescue(now: now, why: LeaseRescue.holderGone) { statement, _ in
            "lease_owner = \(statement.bind(owner))::text"
        }
    }

    func rescue(now: Int64, why: String, where condition: (inout PostgresStatement, ClockSQL) -> String) async throws
        -> [RescuedOrder]
    {
        var statement = PostgresStatement()
        let clock = ClockSQL(self.clock, callerNow: now, in: &statement)
        let reason = statement.bind(why)
        let condition = condition(&statement, clock)
        let query = statement.query(
            """
            UPDATE pending_orders
            SET status = 'pending', in_doubt = 1, retry_at_ms = \(clock.now), last_error = \(reason)::text,
                lease_owner = NULL, lease_token = NULL, lease_expires_ms = NULL
            WHERE status = 'closing' AND \(condition)
            RETURNING mch_id, out_trade_no
            """)
        return try await connection { connection in try await connection.send(query, logger: logger) }.map { row in
            let row = row.makeRandomAccess()
            return RescuedOrder(mchID: try row.value("mch_id"), outTradeNo: try row.value("out_trade_no"))
        }
    }

    public func nextDueTime(admittedBy claim: ClaimRequest) async throws -> Int64? {
        let excluded = claim.excludedMerchants.union(claim.merchantLimits.filter { $0.value <= 0 }.keys)
        var statement = PostgresStatement()
        let due = self.due.due(in: &statement)
        let filter = PostgresDueSQL.filter(
            excludedMerchants: excluded, excludedCircuits: claim.excludedCircuits,
            onlyMerchant: nil, in: &statement)
        let query = statement.query(
            """
            SELECT min(\(due)) AS due_ms, \(PostgresStoreClock.databaseNowSQL) AS now_ms FROM (
                SELECT next_attempt_ms, created_at, timeout_seconds FROM pending_orders
                WHERE status = 'pending' \(filter)
                ORDER BY next_attempt_ms LIMIT 64) AS candidates
            """)
        let localNow = PostgresStoreClock.localNowMs()
        guard
            let row = try await connection({ connection in try await connection.send(query, logger: logger) }).first?
                .makeRandomAccess(),
            let dueMs = try row.value("due_ms", as: Int64?.self)
        else { return nil }
        return try toCallerClock(dueMs, databaseNow: row.value("now_ms"), localNow: localNow)
    }

    /// A time read from the database, on the caller's clock (see `PostgresStoreClock`).
    func toCallerClock(_ time: Int64, databaseNow: Int64, localNow: Int64) -> Int64 {
        clock == .database ? time - databaseNow + localNow : time
    }

    public func publish(_ key: String, _ value: String, now: Int64) async throws {
        var statement = PostgresStatement()
        let clock = ClockSQL(self.clock, callerNow: now, in: &statement)
        let (key, value) = (statement.bind(key), statement.bind(value))
        let query = statement.query(
            """
            INSERT INTO daemon_state (key, value, updated_ms) VALUES (\(key)::text, \(value)::text, \(clock.now))
            ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_ms = excluded.updated_ms
            """)
        try await connection { connection in _ = try await connection.send(query, logger: logger) }
    }

    public func pausedMerchants() async throws -> [String: String] {
        let rows = try await connection { connection in
            try await connection.send("SELECT key, value FROM daemon_state WHERE key LIKE 'pause:%'", logger: logger)
        }
        var paused: [String: String] = [:]
        for row in rows {
            let (key, value) = try row.decode((String, String).self)
            paused[String(key.dropFirst(6))] = value
        }
        return paused
    }

    public func announce(_ daemon: DaemonRecord, now: Int64) async throws {
        let value = String(decoding: try JSONEncoder().encode(daemon), as: UTF8.self)
        try await publish(DaemonRecord.key(daemon.owner), value, now: now)
    }

    public func daemons() async throws -> [DaemonRecord] {
        let localNow = PostgresStoreClock.localNowMs()
        let rows = try await connection { connection in
            try await connection.send(
                """
                SELECT value, updated_ms, \(unescaped: PostgresStoreClock.databaseNowSQL) AS now_ms
                FROM daemon_state WHERE key LIKE 'daemon:%' ORDER BY key
                """, logger: logger)
        }
        return try rows.compactMap { row in
            let (value, updated, databaseNow) = try row.decode((String, Int64, Int64).self)
            guard var record = try? JSONDecoder().decode(DaemonRecord.self, from: Data(value.utf8)) else { return nil }
            record.lastSeenMs = toCallerClock(updated, databaseNow: databaseNow, localNow: localNow)
            return record
        }
    }

    public func forget(daemon owner: String) async throws {
        try await connection { connection in
            _ = try await connection.send("DELETE FROM daemon_state WHERE key = \(DaemonRecord.key(owner))", logger: logger)
        }
    }

    public func summary(now: Int64) async throws -> QueueSummary {
        var statement = PostgresStatement()
        let clock = ClockSQL(self.clock, callerNow: now, in: &statement)
        let due = self.due.due(in: &statement)
        let ownDue = self.due.ownDue(in: &statement)
        // Only due rows, rows in flight and overdue rows are counted: index ranges that stay small
        // while a million orders wait for their time, so a heartbeat costs nothing extra.
        let query = statement.query(
            """
            SELECT d.due, greatest(0, \(clock.now) - coalesce(d.oldest, \(clock.now))) AS due_lag, d.in_doubt,
                   (SELECT count(*) FROM pending_orders WHERE status = 'closing') AS closing,
                   o.overdue, greatest(0, \(clock.now) - coalesce(o.oldest, \(clock.now))) AS overdue_lag
            FROM (SELECT count(*) AS due, min(due_ms) AS oldest, coalesce(sum(in_doubt), 0) AS in_doubt FROM (
                      SELECT \(due) AS due_ms, in_doubt FROM pending_orders
                      WHERE status = 'pending' AND next_attempt_ms <= \(clock.now) AND \(due) <= \(clock.now)) AS due_rows) AS d,
                 (SELECT count(*) AS overdue, min(\(ownDue)) AS oldest FROM pending_orders
                  WHERE status IN ('pending', 'closing') AND \(DueFormula.postgres.floor) <= \(clock.now) / 1000
                    AND \(ownDue) <= \(clock.now)) AS o
            """)
        guard
            let row = try await connection({ connection in try await connection.send(query, logger: logger) }).first?
                .makeRandomAccess()
        else {
            throw PostgresStoreError("the queue summary returned no row")
        }
        return QueueSummary(
            counts: ["due": try row.value("due"), "closing": try row.value("closing")],
            oldestDueLagMs: try row.value("due_lag"), inDoubt: try row.value("in_doubt"),
            overdue: try row.value("overdue"), oldestOverdueMs: try row.value("overdue_lag"))
    }

    // MARK: Plumbing

    /// Runs `body` in one transaction on one pooled connection (see `connection(_:)`). After an
    /// error that ended the connection (a restart, a network cut) no ROLLBACK is sent: the server
    /// has rolled back already, and a statement sent on a dead connection is not worth waiting for.
    func transaction<Result: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> Result) async throws
        -> Result
    {
        try await connection { connection in
            try await connection.send("BEGIN", logger: logger)
            do {
                let result = try await body(connection)
                try await connection.send("COMMIT", logger: logger)
                return result
            } catch {
                if !PostgresStoreError.endedTheConnection(error) {
                    _ = try? await connection.send("ROLLBACK", logger: logger)
                }
                throw error
            }
        }
    }

    /// Runs `body` on one pooled connection, within `operationTimeout` from asking the pool to the
    /// last row. Past it the call fails (an outage, which the loop waits out), its connection is
    /// closed, and the task is cancelled and left behind: whatever postgres-nio waits on (a lease,
    /// a connection the server ended at a restart), the loop and SIGTERM are never held up.
    func connection<Result: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> Result) async throws
        -> Result
    {
        let (client, timeout, logger) = (client, operationTimeout, logger)
        let used = NIOLockedValueBox<PostgresConnection?>(nil)
        let work = Task {
            try await client.withConnection { connection in
                used.withLockedValue { $0 = connection }
                return try await body(connection)
            }
        }
        let first = NIOLockedValueBox(false)
        let outcome: Swift.Result<Result, any Error>? = await withCheckedContinuation { continuation in
            let finish = { @Sendable (value: Swift.Result<Result, any Error>?) in
                let isFirst = first.withLockedValue { done in
                    defer { done = true }
                    return !done
                }
                if isFirst { continuation.resume(returning: value) }
            }
            Task { finish(await work.result) }
            Task {
                try? await Task.sleep(for: timeout)
                finish(nil)
            }
        }
        guard let outcome else {
            logger.warning("no answer from PostgreSQL within \(timeout); giving the call up and closing its connection")
            work.cancel()
            if let connection = used.withLockedValue({ $0 }) { Task { try? await connection.close() } }
            throw PostgresStoreError("PostgreSQL: no answer within \(timeout)")
        }
        return try run { try outcome.get() }
    }

    func run<Result>(_ body: () throws -> Result) throws -> Result {
        do {
            return try body()
        } catch let error as PostgresStoreError {
            throw error
        } catch {
            throw PostgresStoreError(
                "PostgreSQL: \(PostgresStoreError.reason(error))", sqlState: PostgresStoreError.sqlState(of: error))
        }
    }
}
