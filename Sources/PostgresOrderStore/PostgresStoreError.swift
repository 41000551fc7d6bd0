import PostgresNIO

/// Why the PostgreSQL database cannot be used, in words an operator can act on. PostgresNIO keeps
/// its errors' descriptions vague on purpose (a query's values could be secrets); this keeps what
/// the server said (its message, detail and SQLSTATE) and never a bound value or a password.
public struct PostgresStoreError: Error, Sendable, CustomStringConvertible {
    public let description: String
    /// The server's SQLSTATE, when the server refused a statement.
    public let sqlState: String?
    /// The connection is gone (closed by either side): the pool connects again for the next call.
    let endsTheConnection: Bool

    public init(_ description: String, sqlState: String? = nil) {
        self.init(description, sqlState: sqlState, endsTheConnection: false)
    }

    init(_ description: String, sqlState: String?, endsTheConnection: Bool) {
        self.description = description
        self.sqlState = sqlState
        self.endsTheConnection = endsTheConnection
    }

    /// A statement about to be sent on a connection already closed (see `PostgresConnection.send`).
    static let connectionClosed = PostgresStoreError(
        "PostgreSQL: the connection was closed (the server restarted or the network dropped it); connecting again",
        sqlState: nil, endsTheConnection: true)

    /// Whether a row's own values caused it: a data exception (class 22, e.g. bigint out of range)
    /// or an integrity constraint (class 23). Anything else (a lost connection, a missing table,
    /// a timeout) is the database's, an outage of the queue.
    public var isOneRowsFault: Bool { Self.isOneRowsFault(sqlState: sqlState) }

    static func isOneRowsFault(sqlState: String?) -> Bool {
        guard let sqlState else { return false }
        return sqlState.hasPrefix("22") || sqlState.hasPrefix("23")
    }

    /// The SQLSTATE of a server error, through a transaction's wrapping.
    static func sqlState(of error: any Error) -> String? {
        if let error = error as? PostgresStoreError { return error.sqlState }
        if let error = error as? PostgresTransactionError {
            return (error.closureError ?? error.beginError ?? error.commitError).flatMap(sqlState(of:))
        }
        return (error as? PSQLError)?.serverInfo?[.sqlState]
    }

    /// The server's message and SQLSTATE, or the client's error code (connection refused, TLS …).
    public static func reason(_ error: any Error) -> String {
        if let error = error as? PostgresStoreError { return error.description }
        if let error = error as? PostgresTransactionError {
            if let inner = error.closureError ?? error.beginError ?? error.commitError { return reason(inner) }
        }
        if let error = error as? PSQLError {
            if let server = error.serverInfo {
                var text = server[.message] ?? "the server refused the statement"
                if let detail = server[.detail] { text += " (\(detail))" }
                if let constraint = server[.constraintName] { text += " [constraint \(constraint)]" }
                if let state = server[.sqlState] { text += " [SQLSTATE \(state)]" }
                return text
            }
            var text = "\(error.code)"
            if let underlying = error.underlying { text += ": \(underlying)" }
            return text
        }
        return "\(error)"
    }

    /// Whether `error` ended the connection (closed by either side, or a FATAL from the server,
    /// such as 57P01 at a restart), so nothing more can be sent on it.
    static func endedTheConnection(_ error: any Error) -> Bool {
        if let error = error as? PostgresStoreError { return error.endsTheConnection }
        guard let error = error as? PSQLError else { return false }
        if [.serverClosedConnection, .clientClosedConnection, .connectionError].contains(error.code) { return true }
        return error.serverInfo?[.severity] == "FATAL" || error.serverInfo?[.severity] == "PANIC"
    }

    static func newerSchema(found: Int, known: Int) -> PostgresStoreError {
        PostgresStoreError(
            "the PostgreSQL database has schema version \(found), newer than this closeorderd knows (\(known)); upgrade closeorderd"
        )
    }

    static func notMigrated(found: Int, known: Int) -> PostgresStoreError {
        PostgresStoreError(
            "the PostgreSQL database has schema version \(found), but \(known) is needed; run `closeorderd migrate`")
    }
}
