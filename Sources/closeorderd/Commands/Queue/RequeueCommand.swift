import ArgumentParser
import OrderClosing

struct RequeueCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "requeue",
        abstract: "Move failed orders back to pending, with a fresh attempt budget.",
        discussion: """
            Requeued orders are due at once. Only failed orders are touched; give out_trade_nos or --all-failed. \
            Each named order that is not requeued is listed with the reason. Exits 1 if none was requeued.
            """
    )

    @OptionGroup var options: ConfigOptions
    @Argument(help: "The out_trade_no of each failed order to requeue.") var outTradeNos: [String] = []
    @Option(name: .customLong("mch-id"), help: "Only this merchant's orders.") var mchID: String?
    @Flag(name: .customLong("all-failed"), help: "Requeue every failed order.") var allFailed = false
    @Flag(name: .customLong("dry-run"), help: "Say what would change, change nothing.") var dryRun = false

    func validate() throws {
        if outTradeNos.isEmpty == !allFailed { throw ValidationError("give one or more out_trade_nos, or --all-failed") }
    }

    func run() async throws {
        try await OrderActionRunner(options: options)
            .run(.requeue, OrderSelection(outTradeNos: outTradeNos, mchID: mchID, all: allFailed), dryRun: dryRun)
    }
}
