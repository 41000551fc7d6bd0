import ArgumentParser
import Logging
import OrderClosing
import PostgresOrderStore
import SQLiteOrderStore

struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Create or upgrade the database schema (pending_orders, close_attempts).",
        discussion: """
            Applies the numbered files of migrations/ (embedded in the binary) that the database lacks, each in \
            its own transaction, and records them in schema_migrations. Safe to run again. Refuses a database \
            whose schema is newer than this closeorderd.
            """
    )

    @OptionGroup var options: ConfigOptions

    func run() async throws {
        let locator = DatabaseLocator(options: options)
        let postgres: PostgresDatabaseConfig?, path: String
        do {
            (postgres, path) = (try await locator.postgres(), try await locator.path())
        } catch {
            printError("error: \(error)")
            throw ExitCode(1)
        }
        if let postgres {
            try await migrate(postgres)
            return
        }
        if let problem = DatabaseFolder.problem(for: path) {
            printError("error: \(problem)")
            throw ExitCode(1)
        }
        do {
            let pool = try SQLiteDatabase.open(path: path)
            let applied = try Migrations.migrate(pool)
            let version = try Migrations.currentVersion(pool)
            print(applied.isEmpty ? "migrate: \(path) is up to date (schema version \(version))"
                                  : "migrate: applied \(applied.map(String.init).joined(separator: ", ")) to \(path) (schema version \(version))")
        } catch {
            printError("error: \(error)")
            throw ExitCode(1)
        }
    }
}

extension MigrateCommand {
    /// `migrate` on PostgreSQL: under the advisory lock, so daemons starting meanwhile wait.
    func migrate(_ settings: PostgresDatabaseConfig) async throws {
        let logger = Logger(label: "closeorderd.migrate", factory: { _ in SwiftLogNoOpLogHandler() })
        do {
            let database = try settings.open(logger: logger)
            try await database.probe()
            let pool = Task { _ = try? await database.run() }
            defer { pool.cancel() }
            let applied = try await database.migrate()
            let version = try await database.schemaVersion()
            let place = settings.url.display
            print(applied.isEmpty ? "migrate: \(place) is up to date (schema version \(version))"
                                  : "migrate: applied \(applied.map(String.init).joined(separator: ", ")) to \(place) (schema version \(version))")
        } catch {
            printError("error: \(error)")
            throw ExitCode(1)
        }
    }
}
