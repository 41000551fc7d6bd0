import Foundation
import GRDB
import Logging
import OrderClosing
import PostgresOrderStore
import ServiceLifecycle
import SQLiteOrderStore

/// The queue the config names, opened: the SQLite file (`database.path`) or the PostgreSQL
/// database (`database.url`), with its store. A PostgreSQL pool runs in its own task from here
/// until `close()`, after the daemon's service group has drained, so the closing loop's last
/// writes still have their connections.
struct OpenedQueue {
    let store: any OrderStore
    let sqlite: DatabasePool?
    let postgres: PostgresQueueDatabase?
    /// PostgreSQL's NOTIFY, for the closing loop; nil on SQLite (the poll alone).
    let nudges: QueueNudges?
    private let poolTask: Task<Void, Never>?

    /// The PostgreSQL server did not accept a connection (refused, unknown host, TLS, password):
    /// `run` waits for it rather than exiting, so a database still starting at boot cannot use up
    /// the unit's start limit.
    struct Unreachable: Error, CustomStringConvertible {
        let description: String
    }

    /// Opens (and with `migrate`, migrates; else requires a current schema).
    static func open(_ config: DaemonConfig, migrate: Bool, logger: Logger) async throws -> OpenedQueue {
        if let settings = config.postgres {
            let database = try settings.open(logger: logger)
            // One connection first: a wrong port or host is said within seconds, with its cause,
            // instead of after the pool's minute of silent retries.
            do {
                try await database.probe(timeout: .seconds(5))
            } catch {
                throw Unreachable(description: "\(error)")
            }
            let task = Task { _ = try? await database.run() }
            do {
                if migrate { try await database.migrate() } else { try await database.requireCurrentSchema() }
            } catch {
                task.cancel()
                throw error
            }
            return OpenedQueue(store: database.store(due: config.due, clock: .database), sqlite: nil, postgres: database,
                               nudges: QueueNudges(), poolTask: task)
        }
        if let problem = DatabaseFolder.problem(for: config.databasePath) { throw StoreErrorMessage("database.path: \(problem)") }
        let pool = try SQLiteDatabase.openMigrated(path: config.databasePath, busyTimeoutSeconds: Double(config.busyTimeoutMs) / 1000)
        return OpenedQueue(store: SQLiteOrderStore(pool: pool, due: config.due), sqlite: pool, postgres: nil, nudges: nil, poolTask: nil)
    }

    /// `check-config --online`: connects to the PostgreSQL database once, as `open` does first,
    /// and hangs up; nil when it answers, else why not in words (refused, unknown host, TLS,
    /// password). A SQLite file needs no such check: `run` creates it, and its folder is checked
    /// with the config.
    static func connectionProblem(_ settings: PostgresDatabaseConfig, logger: Logger) async -> String? {
        do {
            try await settings.open(logger: logger).probe(timeout: .seconds(5))
            return nil
        } catch {
            return "\(error)"
        }
    }

    /// The services the daemon runs for this queue: PostgreSQL's LISTEN.
    func services(logger: Logger) -> [any Service] {
        guard let postgres, let nudges else { return [] }
        return [PostgresQueueListener(database: postgres, nudges: nudges, logger: logger)]
    }

    func close() { poolTask?.cancel() }
}

extension DaemonConfig {
    /// Where the queue is, for logs and messages: the path, or the URL (which holds no secret).
    var databaseDisplay: String { postgres?.url.display ?? databasePath }
}
