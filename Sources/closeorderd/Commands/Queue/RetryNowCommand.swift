import ArgumentParser
import OrderClosing

struct RetryNowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retry-now",
        abstract: "Make pending orders due now, skipping the rest of their backoff.",
        discussion:
            "Only pending orders are touched; each named order that is not is listed with the reason. Exits 1 if none moved."
    )

    @OptionGroup var options: ConfigOptions
    @Argument(help: "The out_trade_no of each pending order.") var outTradeNos: [String] = []
    @Option(name: .customLong("mch-id"), help: "Only this merchant's orders.") var mchID: String?
    @Flag(name: .customLong("dry-run"), help: "Say what would change, change nothing.") var dryRun = false

    func validate() throws {
        if outTradeNos.isEmpty { throw ValidationError("give one or more out_trade_nos") }
    }

    func run() async throws {
        try await OrderActionRunner(options: options).run(
            .retryNow, OrderSelection(outTradeNos: outTradeNos, mchID: mchID), dryRun: dryRun)
    }
}
