import ArgumentParser
import Foundation
import GRDB
import OrderClosing
import PostgresOrderStore
import SQLiteOrderStore

/// Opens the database named by `--database` or the config. The config is validated as `run`
/// validates it (its keys aside, which an operator may not be able to read): a config `run` would
/// refuse never sends a command to another database, such as the default SQLite path behind a
/// `database.url` that did not parse.
struct DatabaseLocator {
    let options: ConfigOptions

    /// The config, or `OperatorDatabaseError.invalidConfig` naming every problem. With no config
    /// file, `--database` alone names the queue (with the standard due policy); neither is an error.
    func config() async throws -> DaemonConfig {
        let loader = ConfigLoader(path: options.config)
        guard loader.path != nil else {
            if options.database != nil { return DaemonConfig() }
            throw OperatorDatabaseError.invalidConfig(["no config file (--config, $CLOSEORDERD_CONFIG or \(ConfigLoader.defaultPath)) "
                                                       + "and no --database: say which queue"])
        }
        let loaded = await loader.load()
        guard loaded.problems.isEmpty else { throw OperatorDatabaseError.invalidConfig(loaded.problems) }
        return loaded.config
    }

    func path() async throws -> String {
        let config = try await config()
        return options.database ?? config.databasePath
    }

    /// The config's `database.url`, unless `--database` names a SQLite file.
    func postgres() async throws -> PostgresDatabaseConfig? {
        let config = try await config()
        return options.database == nil ? config.postgres : nil
    }

    func open(migrate: Bool = false, readonly: Bool = true) async throws -> DatabasePool {
        let path = try await path()
        if let problem = DatabaseFolder.problem(for: path) { throw StoreErrorMessage(problem) }
        if let denied = DatabaseFolder.denied(path, write: !readonly) { throw OperatorDatabaseError.permissionDenied(denied) }
        do {
            if migrate { return try SQLiteDatabase.openMigrated(path: path) }
            guard FileManager.default.fileExists(atPath: path) else {
                throw OperatorDatabaseError.unreachable("no database at \(path) (run `closeorderd migrate` first, or pass --database)")
            }
            return try SQLiteDatabase.openExisting(path: path, readonly: readonly)
        } catch let error as OperatorDatabaseError {
            throw error
        } catch {
            throw StoreErrorMessage("\(error)")
        }
    }
}
