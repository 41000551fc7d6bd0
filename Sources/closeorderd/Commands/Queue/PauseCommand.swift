import ArgumentParser
import Logging
import OrderClosing

struct PauseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pause",
        abstract: "Pause a merchant: no order of it is sent until `resume`, by any daemon on this database.",
        discussion: "Persisted in the database and shown by `status`; running daemons pick it up within one poll interval."
    )

    @OptionGroup var options: ConfigOptions
    @Argument(help: "The merchant's mch_id.") var mchID: String
    @Option(help: "Why; shown in status and the daemons' logs.") var reason: String
    @Flag(name: .customLong("unconfigured"), help: "Pause a merchant this config does not serve (another daemon's).")
    var unconfigured = false

    func run() async throws {
        // A typo must not pause nothing and say it paused something.
        if options.database == nil, !unconfigured, let config = try? await DatabaseLocator(options: options).config(),
            !config.merchants.contains(where: { $0.mchID == mchID })
        {
            printError(
                "pause: merchant \(shown(mchID)) is not in the config (it serves \(config.merchants.map(\.mchID).sorted().joined(separator: ", "))); "
                    + "nothing would change here. Check the mch_id, or pass --unconfigured for another daemon's merchant")
            throw ExitCode(1)
        }
        try await withOperatorQueue(options, write: true) { database in
            try await database.store.pause(mchID: mchID, reason: reason, now: SystemOrderClock().now())
            OperatorLog.notice("pause: merchant \(mchID) paused: \(reason)", ["mch_id": "\(mchID)", "action": "pause"])
            print(
                "pause: merchant \(shown(mchID)) paused (\(shown(reason))); its orders wait until `closeorderd resume \(shown(mchID))`"
            )
        }
    }
}
