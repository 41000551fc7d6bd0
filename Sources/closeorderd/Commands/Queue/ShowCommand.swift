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
            if json {
                print(try encodeJSON(details))
                return
            }
            let now = SystemOrderClock().now()
            /// Times as people read them: unix ms columns in ISO-8601 with a relative form, created_at too.
            func readable(_ column: String, _ value: FieldValue) -> String {
                guard case .int(let number) = value, column != "duration_ms" else { return shown(value.description) }
                if column.hasSuffix("_ms") { return TimeText.both(number, now: now) }
                if column == "created_at" { return "\(number) (\(TimeText.both(number * 1000, now: now)))" }
                return value.description
            }
            for detail in details {
                for column in detail.order.keys.sorted() where detail.order[column] != .null && !column.hasPrefix("lease") {
                    print("\(column): \(readable(column, detail.order[column]!))")
                }
                print("close_attempts (\(detail.attempts.count)):")
                for attempt in detail.attempts {
                    let fields = [
                        "attempt", "operation", "started_ms", "duration_ms", "endpoint", "http_status", "return_code",
                        "return_msg", "result_code", "err_code", "err_code_des", "outcome", "error",
                    ]
                    print(
                        "  "
                            + fields.compactMap { key in
                                guard let value = attempt[key], value != .null else { return nil }
                                // key=value tokens hold no spaces: the start as ISO-8601 alone.
                                if key == "started_ms", case .int(let ms) = value { return "started=\(TimeText.iso8601(ms))" }
                                return "\(key)=\(shown(value.description))"
                            }.joined(separator: " "))
                }
            }
        }
    }
}
