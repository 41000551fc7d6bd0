import Logging
import OrderClosing
import SQLiteOrderStore
import ServiceLifecycle

/// The queue `QueueBackend.withQueue` opened: its store, and what the daemon runs beside the loop.
struct OpenedQueue: Sendable {
    let store: any OperatorStore & OrderStore
    /// PostgreSQL's NOTIFY, for the closing loop; nil on SQLite (the poll alone).
    let nudges: QueueNudges?
    /// The SQLite file, for what only SQLite has (its vacuum mode, `prune --vacuum`); nil on PostgreSQL.
    let sqliteFile: SQLiteQueueFile?
    private let makeServices: @Sendable (Logger) -> [any Service]
    private let makeWatchSource: @Sendable () throws -> WatchSource

    init(store: any OperatorStore & OrderStore, sqliteFile: SQLiteQueueFile) {
        self.store = store
        self.sqliteFile = sqliteFile
        nudges = nil
        makeServices = { _ in [] }
        makeWatchSource = { try WatchSource.sqlite(path: sqliteFile.path) }
    }

    init(
        store: any OperatorStore & OrderStore, nudges: QueueNudges, services: @escaping @Sendable (Logger) -> [any Service],
        watchSource: @escaping @Sendable () -> WatchSource
    ) {
        self.store = store
        self.nudges = nudges
        sqliteFile = nil
        makeServices = services
        makeWatchSource = watchSource
    }

    /// What `closeorderd watch` reads and waits on.
    func watchSource() throws -> WatchSource { try makeWatchSource() }

    /// The services the daemon runs for this queue: PostgreSQL's LISTEN.
    func services(logger: Logger) -> [any Service] { makeServices(logger) }
}
