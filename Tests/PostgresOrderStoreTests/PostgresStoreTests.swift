import Foundation
import Logging
import OrderClosing
import OrderClosingTestSupport
import StoreTestSupport
import Testing

@testable import PostgresOrderStore

/// What only the PostgreSQL store has: its migration runner and lock, the database's clock, claims
/// by several daemons at once, and the merchant contract as PostgreSQL constraints. (The common
/// behaviour is in `StoreConformanceTests`.) Skipped, saying what to install, without PostgreSQL.
@Suite(.enabled(if: PostgresTestCluster.shouldRun, Comment(rawValue: PostgresTestCluster.missingMessage)))
struct PostgresStoreTests {
    static let created: Int64 = 1_800_000_000
    static let dueMs = DuePolicy.standard.dueTime(createdAt: created, timeoutSeconds: 0)

    /// A second pool on the fixture's database, as another daemon host would open it.
    func neighbour(of fixture: PostgresScratchDatabase) throws -> (PostgresQueueDatabase, Task<Void, Never>) {
        let database = try PostgresQueueDatabase(url: fixture.database.url, password: nil, logger: Logger(label: "neighbour"))
        return (database, Task { _ = try? await database.run() })
    }

    @Test func migrationsApplyOnceAndTwoDaemonsStartingTogetherDoNotRace() async throws {
        let cluster = try await PostgresTestCluster.offPool { try PostgresTestCluster.shared() }
        let name = try await PostgresTestCluster.offPool { try cluster.createDatabase() }
        defer { cluster.dropDatabase(name) }
        let url = PostgresURL(user: cluster.user, host: "127.0.0.1", port: cluster.port, database: name, sslMode: .disable)
        let first = try PostgresQueueDatabase(url: url, password: nil, logger: Logger(label: "a"))
        let second = try PostgresQueueDatabase(url: url, password: nil, logger: Logger(label: "b"))
        let pools = [Task { _ = try? await first.run() }, Task { _ = try? await second.run() }]
        defer { pools.forEach { $0.cancel() } }
        await #expect(throws: PostgresStoreError.self) { try await first.requireCurrentSchema() }

        async let a = first.migrate()
        async let b = second.migrate()
        let applied = try await [a, b].sorted { $0.count > $1.count }
        #expect(
            applied == [PostgresMigrations.embedded.map(\.version), []],
            "one migrates under the lock; the other finds nothing left")
        #expect(try await first.schemaVersion() == PostgresMigrations.latestVersion)
        try await second.requireCurrentSchema()
        #expect(
            try cluster.psql("SELECT count(*) FROM schema_migrations", database: name).trimmingCharacters(
                in: .whitespacesAndNewlines)
                == String(PostgresMigrations.embedded.count))
        #expect(try await first.migrate().isEmpty)
    }

    @Test func aDatabaseFromANewerCloseorderdIsRefused() async throws {
        let fixture = try await PostgresScratchDatabase()
        defer { fixture.remove() }
        try fixture.cluster.psql(
            "INSERT INTO schema_migrations (version, name, applied_ms) VALUES (99, 'future', 0)", database: fixture.name)
        let error = await #expect(throws: PostgresStoreError.self) { try await fixture.database.migrate() }
        #expect(error?.description.contains("schema version 99, newer than this closeorderd knows") == true)
    }

    @Test func theStatementSplitterKeepsFunctionBodiesWhole() {
        let sql = """
            -- a comment; with a semicolon
            CREATE TABLE t (a INT); -- trailing
            CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $fn$
            BEGIN
                PERFORM 1;
                RETURN NULL;
            END
            $fn$;
            -- only a comment at the end
            """
        let statements = PostgresMigrations.statements(in: sql)
        #expect(statements.count == 2)
        #expect(statements.last?.contains("PERFORM 1;") == true && statements.last?.contains("RETURN NULL;") == true)
        #expect(statements.last?.hasSuffix("$fn$;") == true)
    }

    @Test func embeddedMigrationsMatchTheSQLFiles() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let folder = root.appendingPathComponent("migrations/postgresql")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".sql") }.sorted()
        #expect(files.map { String($0.dropLast(4)) } == PostgresMigrations.embedded.map(\.name))
        for (file, migration) in zip(files, PostgresMigrations.embedded) {
            var text = try String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8)
            if text.hasSuffix("\n") { text.removeLast() }
            #expect(text == migration.sql, "run scripts/embed-postgres-migrations after editing \(file)")
        }
    }

    @Test func theMerchantContractIsEnforcedWithErrorsNamingTheRule() async throws {
        let fixture = try await PostgresScratchDatabase()
        defer { fixture.remove() }
        func refusal(_ values: String) -> String {
            do {
                try fixture.cluster.psql(
                    "INSERT INTO pending_orders (mch_id, appid, out_trade_no, created_at, timeout_seconds, status) VALUES \(values)",
                    database: fixture.name)
                return "accepted"
            } catch {
                return "\(error)"
            }
        }
        #expect(refusal("('1900000109', 'wx1', 'OK-1', 1800000000, 0, 'pending')") == "accepted")
        #expect(
            refusal("('1900000109', 'wx1', 'MS', 1800000000000, 0, 'pending')").contains(
                "pending_orders_created_at_is_unix_seconds"))
        #expect(
            refusal("('1900000109', 'wx1', 'A B', 1800000000, 0, 'pending')").contains("pending_orders_out_trade_no_is_1_to_32"))
        #expect(
            refusal("(E'19\\x01', 'wx1', 'CTRL', 1800000000, 0, 'pending')").contains(
                "pending_orders_mch_id_has_no_control_character"))
        #expect(
            refusal("('1900000109', 'wx1', 'CL', 1800000000, 0, 'closed')").contains("status must be pending or paid at INSERT"))
        #expect(
            refusal("('1900000109', 'wx1', 'OK-1', 1800000000, 0, 'pending')").contains("pending_orders_mch_id_out_trade_no_key"))
        let closing = Result { try fixture.cluster.psql("UPDATE pending_orders SET status = 'closing'", database: fixture.name) }
        #expect("\(closing)".contains("pending_orders_closing_has_a_lease"))
    }

    @Test func theDatabasesClockDecidesWhatIsDueWhateverTheDaemonsClockSays() async throws {
        let fixture = try await PostgresScratchDatabase()
        defer { fixture.remove() }
        let store = fixture.database.store(clock: .database)
        let databaseNow = Int64(
            try fixture.cluster.psql("SELECT extract(epoch from now())::bigint", database: fixture.name)
                .trimmingCharacters(in: .whitespacesAndNewlines))!
        try await fixture.place("OLD", createdAt: databaseNow - 400)  // due 95 s ago on the database's clock
        try await fixture.place("NEW", createdAt: databaseNow)  // due in 305 s
        // A daemon whose clock is an hour slow still claims OLD; one an hour fast does not take NEW.
        let slow = try await store.claimDue(
            ClaimRequest(limit: 10), now: (databaseNow - 3_600) * 1000, leaseOwner: "slow",
            leaseUntil: (databaseNow - 3_600) * 1000 + 60_000)
        #expect(slow.map(\.outTradeNo) == ["OLD"])
        let fast = try await store.claimDue(
            ClaimRequest(limit: 10), now: (databaseNow + 3_600) * 1000, leaseOwner: "fast",
            leaseUntil: (databaseNow + 3_600) * 1000 + 60_000)
        #expect(fast.isEmpty)
        // The slow daemon's 60 s lease runs 60 s on the database's clock: the fast one cannot rescue it.
        #expect(try await store.rescueExpiredLeases(now: (databaseNow + 3_600) * 1000, sparing: "fast").isEmpty)
        // The next due time comes back on the caller's (this host's) clock: NEW, about 305 s from now.
        let next = try #require(try await store.nextDueTime(admittedBy: ClaimRequest(limit: 1)))
        let localNow = Int64(Date().timeIntervalSince1970 * 1000)
        #expect(abs(next - (localNow + 305_000)) < 60_000)
    }

    @Test func daemonsClaimingTogetherNeverTakeTheSameOrder() async throws {
        let fixture = try await PostgresScratchDatabase()
        defer { fixture.remove() }
        try fixture.cluster.psql(
            """
            INSERT INTO pending_orders (mch_id, appid, out_trade_no, created_at, timeout_seconds)
            SELECT '1900000109', 'wx1', 'MANY-' || n, \(Self.created), 0 FROM generate_series(1, 400) AS n
            """, database: fixture.name)
        let daemons = try (0..<3).map { _ in try neighbour(of: fixture) }
        defer { daemons.forEach { $0.1.cancel() } }
        let claimed = try await withThrowingTaskGroup(of: [Int64].self) { group in
            for (index, daemon) in daemons.enumerated() {
                let store = daemon.0.store(clock: .caller)
                group.addTask {
                    var mine: [Int64] = []
                    while true {
                        let batch = try await store.claimDue(
                            ClaimRequest(limit: 7), now: Self.dueMs, leaseOwner: "daemon-\(index)",
                            leaseUntil: Self.dueMs + 60_000)
                        if batch.isEmpty { return mine }
                        mine += batch.map(\.id)
                    }
                }
            }
            return try await group.reduce(into: [[Int64]]()) { $0.append($1) }
        }
        let all = claimed.flatMap { $0 }
        #expect(all.count == 400 && Set(all).count == 400, "each order claimed exactly once")
        #expect(
            try fixture.cluster.psql(
                "SELECT count(*) FROM pending_orders WHERE status = 'closing' AND attempts = 1",
                database: fixture.name
            ).trimmingCharacters(in: .whitespacesAndNewlines) == "400")
    }
}

/// A connection the server ends mid-transaction (a restart, an operator's pg_terminate_backend)
/// fails the store's call at once: the loop must see an outage, never wait forever.
@Suite(.enabled(if: PostgresTestCluster.shouldRun, Comment(rawValue: PostgresTestCluster.missingMessage)))
struct PostgresConnectionLossTests {
    @Test func aTransactionWhoseConnectionIsTerminatedFailsRatherThanHangs() async throws {
        let fixture = try await PostgresScratchDatabase()
        defer { fixture.remove() }
        try await fixture.place("LOCKED", createdAt: 1_800_000_000)
        // Another session holds the table, so the claim waits inside its transaction.
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: PostgresTestCluster.binDirectory! + "/psql")
        holder.arguments = [
            "-X", "-q", "-h", "127.0.0.1", "-p", String(fixture.cluster.port), "-U", "postgres", "-d", fixture.name, "-c",
            "BEGIN; LOCK TABLE pending_orders IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(30); COMMIT;",
        ]
        holder.environment = ["PGAPPNAME": "lock-holder"]
        holder.standardOutput = FileHandle.nullDevice
        holder.standardError = FileHandle.nullDevice
        try holder.run()
        defer { holder.terminate() }
        try await waitFor("the holder's lock") {
            try fixture.cluster.psql(
                "SELECT count(*) FROM pg_locks WHERE relation = 'pending_orders'::regclass AND mode = 'AccessExclusiveLock' AND granted",
                database: fixture.name
            ).hasPrefix("1")
        }
        let store = fixture.postgresStore
        let claim = Task {
            try await store.claimDue(
                ClaimRequest(limit: 1), now: 1_800_000_305_000, leaseOwner: "me", leaseUntil: 1_800_000_365_000)
        }
        try await waitFor("the claim to wait for the lock") {
            try fixture.cluster.psql(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
                database: fixture.name
            ).hasPrefix("1")
        }
        try fixture.cluster.psql(
            """
            SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'
            """, database: fixture.name)
        let outcome = try await resultWithin(.seconds(20)) { await claim.result }
        guard case .failure(let error) = outcome else {
            Issue.record("the claim succeeded on a terminated connection")
            return
        }
        #expect("\(error)".contains("terminating connection"), "\(error)")
        // The store works again on a fresh connection once the lock is gone.
        try fixture.cluster.psql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'lock-holder'",
            database: fixture.name)
        holder.waitUntilExit()
        try await waitFor("the lock to go") {
            try fixture.cluster.psql(
                "SELECT count(*) FROM pg_locks WHERE relation = 'pending_orders'::regclass AND granted AND mode = 'AccessExclusiveLock'",
                database: fixture.name
            ).hasPrefix("0")
        }
        #expect(
            try await store.claimDue(
                ClaimRequest(limit: 1), now: 1_800_000_305_000, leaseOwner: "me",
                leaseUntil: 1_800_000_365_000
            ).map(\.outTradeNo) == ["LOCKED"])
    }

    /// Checks `condition` (another process's state: nothing to wait on but the data) until it
    /// holds, failing after 30 s.
    func waitFor(_ awaited: String, _ condition: () throws -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if try condition() { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw PostgresTestCluster.ClusterError("timed out waiting for \(awaited)")
    }

    /// The body's value, or a thrown timeout if it has not come within `timeout` (the body is left running).
    func resultWithin<T: Sendable>(_ timeout: Duration, _ body: @escaping @Sendable () async -> T) async throws -> T {
        let once = Once()
        let value: T? = await withCheckedContinuation { continuation in
            Task {
                let value = await body()
                if once.claim() { continuation.resume(returning: value) }
            }
            Task {
                try? await Task.sleep(for: timeout)
                if once.claim() { continuation.resume(returning: nil) }
            }
        }
        guard let value else { throw PostgresTestCluster.ClusterError("timed out after \(timeout)") }
        return value
    }
}

/// True for the first caller only.
final class Once: @unchecked Sendable {
    private let lock = NSLock()
    private var claimed = false
    func claim() -> Bool {
        lock.withLock {
            defer { claimed = true }
            return !claimed
        }
    }
}

/// Migration 2's trigger and `PostgresQueueListener`: a row the app inserts, or sets to paid,
/// nudges the daemon through LISTEN/NOTIFY.
@Suite(.enabled(if: PostgresTestCluster.shouldRun, Comment(rawValue: PostgresTestCluster.missingMessage)))
struct PostgresNotifyTests {
    @Test func anInsertAndAPaidRowNudgeTheListener() async throws {
        let fixture = try await PostgresScratchDatabase()
        defer { fixture.remove() }
        let nudges = QueueNudges()
        var logger = Logger(label: "listener-test")
        logger.logLevel = .critical
        let listener = Task { try await PostgresQueueListener(database: fixture.database, nudges: nudges, logger: logger).run() }
        defer { listener.cancel() }
        let waits = PostgresConnectionLossTests()
        // The listener nudges once when its LISTEN is in place (for rows written while it was not).
        _ = try await waits.resultWithin(.seconds(30)) { await nudges.next() }
        try await fixture.place("NOTIFIED", createdAt: 1_800_000_000)
        _ = try await waits.resultWithin(.seconds(30)) { await nudges.next() }
        try await fixture.markPaidByApp("NOTIFIED")
        _ = try await waits.resultWithin(.seconds(30)) { await nudges.next() }
        #expect(nudges.count >= 3)
    }
}
