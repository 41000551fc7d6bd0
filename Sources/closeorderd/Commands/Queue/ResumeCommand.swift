import ArgumentParser
import Logging
import OrderClosing

struct ResumeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume",
        abstract: "Resume a merchant paused with `pause`, and clear its circuit as `status` shows it.",
        discussion: """
            Also clears the merchant's circuit rows (open after WeChat refused its key, or paused for an unusable key), \
            so `status --check` stops warning; a daemon that still finds the merchant failing opens it again. \
            Exits 1 if the merchant was neither paused nor had a circuit open.
            """
    )

    @OptionGroup var options: ConfigOptions
    @Argument(help: "The merchant's mch_id.") var mchID: String

    func run() async throws {
        try await withOperatorQueue(options, write: true) { database in
            let now = SystemOrderClock().now()
            let wasPaused = try await database.store.resume(mchID: mchID)
            let circuits = try await database.store.status(now: now).circuits.keys.filter {
                $0 == mchID || $0.hasPrefix(mchID + "/")
            }
            let cleared = PublishedCircuit(state: .closed, reason: "cleared by an operator", owner: "operator").encoded
            for key in circuits.sorted() {
                try await database.store.publish("circuit:\(key)", cleared, now: now)
                print("resume: circuit \(shown(key)) cleared")
            }
            guard wasPaused || !circuits.isEmpty else {
                print("resume: merchant \(shown(mchID)) was not paused and has no open circuit")
                throw ExitCode(1)
            }
            OperatorLog.notice("resume: merchant \(mchID) resumed", ["mch_id": "\(mchID)", "action": "resume"])
            print("resume: merchant \(shown(mchID)) resumed; running daemons pick it up within one poll interval")
        }
    }
}
