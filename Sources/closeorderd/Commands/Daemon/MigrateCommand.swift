import ArgumentParser
import Logging
import OrderClosing

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
        let logger = Logger(label: "closeorderd.migrate", factory: { _ in SwiftLogNoOpLogHandler() })
        do {
            let (backend, _) = try await DatabaseLocator(options: options).backend()
            let (applied, version) = try await backend.migrate(logger: logger)
            print(
                applied.isEmpty
                    ? "migrate: \(backend.display) is up to date (schema version \(version))"
                    : "migrate: applied \(applied.map(String.init).joined(separator: ", ")) to \(backend.display) (schema version \(version))"
            )
        } catch {
            printError("error: \(error)")
            throw ExitCode(1)
        }
    }
}
