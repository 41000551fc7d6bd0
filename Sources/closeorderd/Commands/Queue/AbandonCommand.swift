import ArgumentParser
import Foundation
import OrderClosing

struct AbandonCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "abandon",
        abstract: "Give up on pending orders: they end failed with your reason and are never sent again.",
        discussion:
            "For an order you know WeChat must not be asked about again. An order being closed is left alone (try again after)."
    )

    @OptionGroup var options: ConfigOptions
    @Argument(help: "The out_trade_no of each pending order.") var outTradeNos: [String] = []
    @Option(name: .customLong("mch-id"), help: "Only this merchant's orders.") var mchID: String?
    @Option(help: "Why; recorded in last_error.") var reason: String
    @Flag(name: .customLong("dry-run"), help: "Say what would change, change nothing.") var dryRun = false

    func validate() throws {
        if outTradeNos.isEmpty { throw ValidationError("give one or more out_trade_nos") }
        if reason.trimmingCharacters(in: .whitespaces).isEmpty { throw ValidationError("--reason must say why") }
    }

    func run() async throws {
        try await OrderActionRunner(options: options).run(
            .abandon(reason: reason), OrderSelection(outTradeNos: outTradeNos, mchID: mchID),
            dryRun: dryRun)
    }
}
