import ArgumentParser

@main
struct CloseOrderD: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "closeorderd",
        abstract: "Closes unpaid WeChat Pay orders (API v2 and v3) once they are past their timeout and at least 5 minutes old.",
        discussion: """
            The merchant's app writes one row per unpaid order into the table pending_orders (SQLite or \
            PostgreSQL); each merchant is on WeChat Pay API v2 or v3 (`"api": "v3"`). \
            `closeorderd run` closes each one when it falls due and records the outcome in the same row \
            and in close_attempts. Try `closeorderd demo` to see it work against a built-in fake WeChat Pay.
            """,
        version: "closeorderd 0.5.0",
        subcommands: [
            RunCommand.self, MigrateCommand.self, DemoCommand.self, StatusCommand.self, ShowCommand.self,
            RequeueCommand.self, ListCommand.self, RetryNowCommand.self, AbandonCommand.self, PauseCommand.self,
            ResumeCommand.self,
            PruneCommand.self, WatchCommand.self,
            SignCommand.self, CheckConfigCommand.self, FakeWeChatPayCommand.self,
        ]
    )
}

/// `--config` and `--database`, shared by the commands that read the configuration.
struct ConfigOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "The JSON config file.",
            discussion: "Default: $CLOSEORDERD_CONFIG, else /etc/closeorderd/config.json if it exists.",
            valueName: "path"))
    var config: String?

    @Option(name: .long, help: ArgumentHelp("The SQLite database, overriding database.path.", valueName: "path"))
    var database: String?
}
