import ArgumentParser
import GRDB
import Logging
import OrderClosing
import PostgresOrderStore
import SQLiteOrderStore

/// The queue an operator command works on, opened: the SQLite file (`--database` or
/// `database.path`) or the PostgreSQL database (`database.url`), as `run` and `migrate` pick it.
/// A PostgreSQL pool runs in its own task until `close()`. The schema must be current: a command
/// never migrates by surprise, and says to run `closeorderd migrate` instead.
struct OperatorDatabase {
    let store: any OperatorStore & OrderStore
    /// The SQLite pool, for what only SQLite has (`prune --vacuum`); nil on PostgreSQL.
    let sqlite: DatabasePool?
    private let poolTask: Task<Void, Never>?

    /// Opens the store the options name, with the config's due policy. On SQLite `readonly` opens
    /// the file read-only (PostgreSQL's permissions are the server's business).
    static func open(_ options: ConfigOptions, readonly: Bool) async throws -> OperatorDatabase {
        let locator = DatabaseLocator(options: options)
        let due = options.database == nil ? try await locator.config().due : .standard
        if let settings = try await locator.postgres() {
            let logger = Logger(label: "closeorderd.cli", factory: { _ in SwiftLogNoOpLogHandler() })
            let database = try settings.open(logger: logger)
            do {
                try await database.probe(timeout: .seconds(5))
            } catch {
                throw OperatorDatabaseError.unreachable("\(error)")
            }
            let task = Task { _ = try? await database.run() }
            do {
                try await database.requireCurrentSchema()
            } catch {
                task.cancel()
                throw error
            }
            return OperatorDatabase(store: database.store(due: due, clock: .database), sqlite: nil, poolTask: task)
        }
        let pool = try await locator.open(readonly: readonly)
        return OperatorDatabase(store: SQLiteOrderStore(pool: pool, due: due), sqlite: pool, poolTask: nil)
    }

    func close() { poolTask?.cancel() }
}

/// Opens the store the options name, or prints why not and exits 1.
func openOrExit(_ options: ConfigOptions, readonly: Bool = true) async throws -> OperatorDatabase {
    do {
        return try await OperatorDatabase.open(options, readonly: readonly)
    } catch {
        printError("error: \(error)")
        throw ExitCode(1)
    }
}
