import ArgumentParser
import OrderClosing

struct ShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show one order's row and every attempt made for it.",
        discussion: "Lists every merchant's order with that out_trade_no unless --mch-id narrows it. Exits 1 if there is none."
    )

    @OptionGroup var options: ConfigOptions
    @Argument(help: "The order's out_trade_no.") var outTradeNo: String
    @Option(name: .customLong("mch-id"), help: "Only this merchant's order.") var mchID: String?
    @Flag(help: "Print JSON instead of text.") var json = false

    func run() async throws {
        try await withOperatorQueue(options) { database in
            let details = try await database.store.show(outTradeNo: outTradeNo, mchID: mchID)
            guard !details.isEmpty else {
                printError("show: no order with out_trade_no \(outTradeNo)\(mchID.map { " for mch_id \($0)" } ?? "")")
                throw ExitCode(1)
            }
            let views = details.map(OrderDetailView.init)
            if json {
                print(try encodeJSON(views))
                return
            }
            let now = SystemOrderClock().now()
            for line in views.flatMap({ $0.lines(now: now) }) { print(line) }
        }
    }
}
