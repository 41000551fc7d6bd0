import Logging
import PostgresNIO

/// The one way the store sends a statement (issue 24). postgres-nio writes a statement with a nil
/// write promise; once NIO has torn a closed channel's pipeline down (one event-loop task after
/// `channelInactive`, e.g. after a server restart), that write is dropped and the statement is
/// never answered, so the caller waited for its 30 s `operationTimeout` (RELIABILITY.md, "Known
/// upstream defect"). Checking `isClosed` and writing in the same event-loop task closes that
/// window: `isActive` turns false in `close0`, before the teardown is scheduled, so the statement
/// either reaches `PostgresChannelHandler` (which fails it) or is refused here.
extension PostgresConnection {
    /// Sends `query` and collects its rows; throws `PostgresStoreError.connectionClosed` at once on
    /// a connection already closed.
    func send(_ query: PostgresQuery, logger: Logger) async throws -> [PostgresRow] {
        let sent: EventLoopFuture<PostgresQueryResult> = eventLoop.flatSubmit { [self] in
            guard !isClosed else { return eventLoop.makeFailedFuture(PostgresStoreError.connectionClosed) }
            return self.query(query, logger: logger)
        }
        return try await sent.get().rows
    }
}
