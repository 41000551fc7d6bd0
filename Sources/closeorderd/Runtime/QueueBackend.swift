import Logging
import OrderClosing
import PostgresOrderStore
import SQLiteOrderStore
import ServiceLifecycle

/// Where the queue lives — a SQLite file (`database.path`, or `--database`) or a PostgreSQL
/// database (`database.url`) — chosen once from the config. Every command opens the queue here
/// (the daemon, `migrate`, the operator commands, `check-config --online`), so this is the one
/// place in the shell that tells the two stores apart.
///
/// | use         | SQLite                              | PostgreSQL                                   |
/// |-------------|-------------------------------------|----------------------------------------------|
/// | `.daemon`   | created if missing, migrated        | probed (5 s), migrated under the advisory lock |
/// | `.operator` | must exist and be current; read-only unless `write` | probed (5 s), must be current   |
///
/// A PostgreSQL connection pool runs as a child task of `withQueue` for exactly as long as the
/// body: the daemon's service group runs inside the body, so its last writes at a shutdown still
/// have their connections.
enum QueueBackend: Sendable {
    case sqlite(path: String, busyTimeoutMs: Int)
    case postgres(PostgresDatabaseConfig)

    enum Use: Sendable, Equatable {
        case daemon
        case `operator`(write: Bool)
    }

    /// The PostgreSQL server did not accept a connection (refused, unknown host, TLS, password):
    /// `run` waits for it rather than exiting, so a database still starting at boot cannot use up
    /// the unit's start limit; operator commands report it as unreachable (CRITICAL).
    struct Unreachable: Error, CustomStringConvertible {
        let description: String
    }

    /// The config's queue, or the SQLite file `database` names instead.
    init(_ config: DaemonConfig, database: String? = nil) {
        if database == nil, let postgres = config.postgres {
            self = .postgres(postgres)
        } else {
            self = .sqlite(path: database ?? config.databasePath, busyTimeoutMs: config.busyTimeoutMs)
        }
    }

    /// Where the queue is, for logs and messages: the path, or the URL (which holds no secret).
    var display: String {
        switch self {
        case .sqlite(let path, _): path
        case .postgres(let settings): settings.url.display
        }
    }

    /// Opens the queue for `use`, runs `body` with it, and closes it.
    func withQueue<T: Sendable>(
        _ use: Use, due: DuePolicy, logger: Logger,
        _ body: (OpenedQueue) async throws -> T
    ) async throws -> T {
        switch self {
        case .sqlite(let path, let busyTimeoutMs):
            if let problem = DatabaseFolder.problem(for: path) {
                throw StoreErrorMessage(use == .daemon ? "database.path: \(problem)" : problem)
            }
            let file: SQLiteQueueFile
            switch use {
            case .daemon:
                file = try SQLiteQueueFile.openMigrated(path: path, busyTimeoutSeconds: Double(busyTimeoutMs) / 1000)
            case .operator(let write):
                if let denied = DatabaseFolder.denied(path, write: write) { throw OperatorDatabaseError.permissionDenied(denied) }
                guard DatabaseFolder.exists(path) else {
                    throw OperatorDatabaseError.unreachable(
                        "no database at \(path) (run `closeorderd migrate` first, or pass --database)")
                }
                do {
                    file = try SQLiteQueueFile.openExisting(path: path, readonly: !write)
                } catch {
                    throw StoreErrorMessage("\(error)")
                }
            }
            return try await body(OpenedQueue(store: file.store(due: due), sqliteFile: file))
        case .postgres(let settings):
            let database = try settings.open(logger: logger)
            // One connection first: a wrong port or host is said within seconds, with its cause,
            // instead of after the pool's minute of silent retries.
            do {
                try await database.probe(timeout: .seconds(5))
            } catch {
                throw Unreachable(description: "\(error)")
            }
            return try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try? await database.run() }
                defer { group.cancelAll() }
                if use == .daemon { try await database.migrate() } else { try await database.requireCurrentSchema() }
                let nudges = QueueNudges()
                return try await body(
                    OpenedQueue(
                        store: database.store(due: due, clock: .database), nudges: nudges,
                        services: { logger in [PostgresQueueListener(database: database, nudges: nudges, logger: logger)] },
                        watchSource: { WatchSource.postgres(database) }))
            }
        }
    }

    /// `closeorderd migrate`: applies what the schema lacks (on PostgreSQL under the advisory
    /// lock, so daemons starting meanwhile wait); the versions applied now and the version after.
    func migrate(logger: Logger) async throws -> (applied: [Int], version: Int) {
        switch self {
        case .sqlite(let path, _):
            if let problem = DatabaseFolder.problem(for: path) { throw StoreErrorMessage(problem) }
            return try SQLiteQueueFile.migrate(path: path)
        case .postgres(let settings):
            let database = try settings.open(logger: logger)
            try await database.probe()
            return try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try? await database.run() }
                defer { group.cancelAll() }
                let applied = try await database.migrate()
                return (applied, try await database.schemaVersion())
            }
        }
    }

    /// `check-config --online`: connects once, as `withQueue` does first, and hangs up; nil when
    /// the server answers, else why not in words. A SQLite file needs no such check: `run`
    /// creates it, and its folder is checked with the config.
    func connectionProblem(logger: Logger) async -> String? {
        guard case .postgres(let settings) = self else { return nil }
        do {
            try await settings.open(logger: logger).probe(timeout: .seconds(5))
            return nil
        } catch {
            return "\(error)"
        }
    }
}
