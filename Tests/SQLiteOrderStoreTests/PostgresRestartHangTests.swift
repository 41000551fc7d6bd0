import Foundation
import Logging
import OrderClosingTestSupport
import PostgresNIO
@testable import PostgresOrderStore
import Testing

/// Why a statement sent around a PostgreSQL restart got no answer until the store's 30 s
/// `operationTimeout` (RELIABILITY.md, "Known upstream defect"). postgres-nio 1.33.2 writes every
/// statement with `channel.write(task, promise: nil)` (PostgresConnection.swift:261, :471); once
/// NIO has torn a closed channel's pipeline down, that write is dropped and nothing fails the
/// statement's promise. A connection held across the restart (the store's transaction between
/// BEGIN and its next statement) or leased just before the pool saw the close waits forever.
///
/// Pins today's behaviour: it fails the day postgres-nio answers such a statement (with an error);
/// then the store's workaround (the last step here) can go.
@Suite(.enabled(if: PostgresTestCluster.shouldRun, Comment(rawValue: PostgresTestCluster.missingMessage)))
struct PostgresRestartHangTests {
    let logger = Logger(label: "closeorderd.test.restart-hang")

    @Test func aStatementSentAfterARestartClosedItsConnectionIsNeverAnswered() async throws {
        let cluster = try await PostgresTestCluster.offPool { try PostgresTestCluster() }   // its own server: this test restarts it
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
            let inFlight = Task { try await client.withConnection { try await $0.query("SELECT pg_sleep(60)", logger: logger).collect().count } }
            try await waitFor("the statement in flight") {
                try cluster.psql("SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(60)' AND state = 'active'",
                                 database: name).hasPrefix("1")
            }

            // Fast shutdown: every backend sends FATAL 57P01 and closes its socket.
            try await PostgresTestCluster.offPool { cluster.stopServer() }
            // The statement in flight fails at once with the server's reason.
            guard case .failure(let error) = try await resultWithin(.seconds(20), { await inFlight.result }) else {
                Issue.record("pg_sleep(60) was answered across a server stop"); return
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
            let fresh = try await resultWithin(.seconds(30)) { try? await client.query("SELECT 1", logger: logger).collect().count }
            #expect(fresh == 1)
            #expect(!answered.isSet)
            // The async query (the API the store uses, PostgresConnection.swift:471) is dropped the same way.
            let asyncStatement = Task { _ = try await held.query("SELECT 1", logger: logger) }
            #expect(try await optionalResultWithin(.seconds(2)) { await asyncStatement.result } == nil,
                    "the async query on a closed connection got an answer")

            // The workaround: the closed check and the write in one event-loop task. The check
            // sees `isActive` false before NIO schedules the teardown, so the statement either
            // reaches the handler (which fails it) or is refused here; it is never dropped.
            let refused = try await resultWithin(.seconds(5)) {
                await Result { try await Self.sendUnlessClosed("SELECT 1", on: held, logger: logger).get() }
            }
            guard case .failure(let refusal) = refused else { Issue.record("a closed connection answered"); return }
            #expect(refusal is ConnectionClosed)
        }
        // The same path on a live connection answers as before.
        let rows = try await client.withConnection { live in try await Self.sendUnlessClosed("SELECT 1", on: live, logger: logger).get() }
        #expect(rows.count == 1)
    }

    /// The EventLoopFuture `query`: its write is handed to the event loop before it returns.
    static func send(_ sql: PostgresQuery, on connection: PostgresConnection, logger: Logger) -> EventLoopFuture<PostgresQueryResult> {
        connection.query(sql, logger: logger)
    }

    /// `send`, refused at once on a connection already closed (see the test's last step).
    static func sendUnlessClosed(_ sql: PostgresQuery, on connection: PostgresConnection, logger: Logger) -> EventLoopFuture<PostgresQueryResult> {
        connection.eventLoop.flatSubmit {
            guard !connection.isClosed else { return connection.eventLoop.makeFailedFuture(ConnectionClosed()) }
            return send(sql, on: connection, logger: logger)
        }
    }

    struct ConnectionClosed: Error {}

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
            Task { let value = await body(); if once.claim() { continuation.resume(returning: value) } }
            Task { try? await Task.sleep(for: timeout); if once.claim() { continuation.resume(returning: nil) } }
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
