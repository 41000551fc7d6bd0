import ArgumentParser
import OrderClosing

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
            throw OperatorDatabaseError.invalidConfig([
                "no config file (--config, $CLOSEORDERD_CONFIG or \(ConfigLoader.defaultPath)) "
                    + "and no --database: say which queue"
            ])
        }
        let loaded = await loader.load()
        guard loaded.problems.isEmpty else { throw OperatorDatabaseError.invalidConfig(loaded.problems) }
        return loaded.config
    }

    /// The queue the options name, and the due policy to read it with (the standard one for a
    /// `--database` given without a config).
    func backend() async throws -> (QueueBackend, DuePolicy) {
        let config = try await config()
        let due = options.database == nil ? config.due : .standard
        return (QueueBackend(config, database: options.database), due)
    }
}
