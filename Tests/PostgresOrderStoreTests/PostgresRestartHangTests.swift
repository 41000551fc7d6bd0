import Foundation
import Logging
import OrderClosingTestSupport
import PostgresNIO
import StoreTestSupport
import Testing

@testable import PostgresOrderStore

/// Why a statement sent around a PostgreSQL restart got no answer until the store's 30 s
/// `operationTimeout` (RELIABILITY.md, "Known upstream defect"). postgres-nio 1.33.2 writes every
/// statement with `channel.write(task, promise: nil)` (PostgresConnection.swift:261, :471); once
/// NIO has torn a closed channel's pipeline down, that write is dropped and nothing fails the
/// statement's promise. A connection held across the restart (the store's transaction between
/// BEGIN and its next statement) or leased just before the pool saw the close waits forever.
///
/// The first test pins postgres-nio's behaviour: it fails the day postgres-nio answers such a
/// statement (with an error); then the store's workaround (`PostgresConnection.send`) can go. The
/// second shows the workaround in the store: its next statement fails at once, not after 30 s.
@Suite(.enabled(if: PostgresTestCluster.shouldRun, Comment(rawValue: PostgresTestCluster.missingMessage)))
struct PostgresRestartHangTests {
    let logger = Logger(label: "closeorderd.test.restart-hang")

    @Test func aStatementSentAfterARestartClosedItsConnectionIsNeverAnswered() async throws {
        // its own server: this test restarts it
        let cluster = try await PostgresTestCluster.offPool { try PostgresTestCluster() }
        defer { cluster.stop() }
        let name = try await PostgresTestCluster.offPool { try cluster.createDatabase() }
        let url = PostgresURL(user: cluster.user, host: "127.0.0.1", port: cluster.port, database: name, sslMode: .disable)
        let database = try PostgresQueueDatabase(url: url, password: nil, logger: logger)
        let pool = Task { _ = try? await database.run() }
        defer { pool.cancel() }
        let (client, logger) = (database.client, logger)

        try await client.withConnection { held in
            // As the store's transaction: BEGIN answered, the next statement not sent yet.
            try await held.query("BEGIN", logger: logger)
            // Another connection has a statement in flight when the server stops.
            let inFlight = Task {
                try await client.withConnection { try await $0.query("SELECT pg_sleep(60)", logger: logger).collect().count }
            }
            try await waitFor("the statement in flight") {
                try cluster.psql(
                    "SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(60)' AND state = 'active'",
                    database: name
                ).hasPrefix("1")
            }

            // Fast shutdown: every backend sends FATAL 57P01 and closes its socket.
            try await PostgresTestCluster.offPool { cluster.stopServer() }
            // The statement in flight fails at once with the server's reason.
            guard case .failure(let error) = try await resultWithin(.seconds(20), { await inFlight.result }) else {
                Issue.record("pg_sleep(60) was answered across a server stop")
                return
            }
            #expect(PostgresStoreError.reason(error).contains("57P01"), "\(PostgresStoreError.reason(error))")
            // The held connection is closed; its closeFuture completes after NIO removed the
            // pipeline's handlers (BaseSocketChannel.close0, its deferred removeHandlers).
            _ = try await resultWithin(.seconds(20)) { try? await held.closeFuture.get() }
            #expect(held.isClosed)

            // The next statement on it: the write reaches a pipeline without PostgresChannelHandler
            // and is dropped. Once the event loop has run that write (tasks run in order), nothing
            // holds the statement's promise any more: no answer and no error will ever come.
            let answered = Flag()
            Self.send("SELECT 1", on: held, logger: logger).whenComplete { _ in answered.set() }
            try await held.eventLoop.submit {}.get()
            #expect(!answered.isSet, "postgres-nio now answers a statement on a closed connection: the store's workaround can go")

            // The server back, the pool answers on a new connection, and still nothing for that statement.
            try await PostgresTestCluster.offPool { try cluster.start() }
            let fresh = try await resultWithin(.seconds(30)) {
                try? await client.query("SELECT 1", logger: logger).collect().count
            }
            #expect(fresh == 1)
            #expect(!answered.isSet)
            // The async query (the API the store uses, PostgresConnection.swift:471) is dropped the same way.
            let asyncStatement = Task { _ = try await held.query("SELECT 1", logger: logger) }
            #expect(
                try await optionalResultWithin(.seconds(2)) { await asyncStatement.result } == nil,
                "the async query on a closed connection got an answer")

            // The store's workaround (`PostgresConnection.send`): the closed check and the write in
            // one event-loop task. The check sees `isActive` false before NIO schedules the
            // teardown, so the statement either reaches the handler (which fails it) or is
            // refused there; it is never dropped.
            let refused = try await resultWithin(.seconds(5)) { await Result { try await held.send("SELECT 1", logger: logger) } }
            guard case .failure(let refusal) = refused else {
                Issue.record("a closed connection answered")
                return
            }
            #expect(PostgresStoreError.endedTheConnection(refusal), "\(refusal)")
        }
        // The same path on a live connection answers as before.
        let rows = try await client.withConnection { live in try await live.send("SELECT 1", logger: logger) }
        #expect(rows.count == 1)
    }

    /// The store's transaction held across a restart (BEGIN answered, its next statement not sent
    /// yet): that statement fails at once as a lost connection, and the next call connects again.
    /// Before `PostgresConnection.send` it waited for the whole `operationTimeout` (here 25 s).
    @Test func theStoresNextStatementAfterARestartFailsAtOnceAndTheNextCallReconnects() async throws {
        let cluster = try await PostgresTestCluster.offPool { try PostgresTestCluster() }
        defer { cluster.stop() }
        let name = try await PostgresTestCluster.offPool { try cluster.createDatabase() }
        let url = PostgresURL(user: cluster.user, host: "127.0.0.1", port: cluster.port, database: name, sslMode: .disable)
        let database = try PostgresQueueDatabase(url: url, password: nil, logger: logger)
        let pool = Task { _ = try? await database.run() }
        defer { pool.cancel() }
        try await database.migrate()
        let store = PostgresOrderStore(client: database.client, operationTimeout: .seconds(25), logger: logger)

        let started = ContinuousClock.now
        let outcome = await Result {
            try await store.transaction { connection in
                try await PostgresTestCluster.offPool { cluster.stopServer() }
                _ = try? await connection.closeFuture.get()
                try await store.releaseUnanswered(["a lease token"], on: connection)
            }
        }
        let waited = ContinuousClock.now - started
        guard case .failure(let error) = outcome else {
            Issue.record("a statement was answered across a server stop")
            return
        }
        #expect(PostgresStoreError.endedTheConnection(error), "not taken for a lost connection: \(error)")
        #expect(!"\(error)".contains("no answer within"), "\(error)")
        #expect(waited < .seconds(15), "the statement waited \(waited) (the operation timeout is 25 s)")

        // The server back: the next call gets a new connection from the pool.
        try await PostgresTestCluster.offPool { try cluster.start() }
        let paused = try await resultWithin(.seconds(30)) { await Result { try await store.pausedMerchants() } }
        #expect(try paused.get().isEmpty)
    }

    /// The EventLoopFuture `query`: its write is handed to the event loop before it returns.
    static func send(_ sql: PostgresQuery, on connection: PostgresConnection, logger: Logger) -> EventLoopFuture<
        PostgresQueryResult
    > {
        connection.query(sql, logger: logger)
    }

    /// Checks `condition` (the server's state: nothing to wait on but the data) until it holds, failing after 30 s.
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
        guard let value = try await optionalResultWithin(timeout, body) else {
            throw PostgresTestCluster.ClusterError("timed out after \(timeout)")
        }
        return value
    }

    /// The body's value, or nil if it has not come within `timeout` (the body is left running).
    func optionalResultWithin<T: Sendable>(_ timeout: Duration, _ body: @escaping @Sendable () async -> T) async throws -> T? {
        let once = Once()
        return await withCheckedContinuation { continuation in
            Task {
                let value = await body()
                if once.claim() { continuation.resume(returning: value) }
            }
            Task {
                try? await Task.sleep(for: timeout)
                if once.claim() { continuation.resume(returning: nil) }
            }
        }
    }
}

/// Set once something happened; read by the test.
final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.withLock { value = true } }
    var isSet: Bool { lock.withLock { value } }
}

extension Result where Failure == any Error {
    init(catching body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}
