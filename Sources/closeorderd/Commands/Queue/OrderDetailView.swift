import OrderClosing

/// `show`'s output from an `OrderDetail`: each column under its name in `pending_orders` and
/// `close_attempts`, as text for people and as JSON for scripts (every column, NULL as null;
/// stable, README "Operating it").
struct OrderDetailView: Encodable {
    /// A column's value as printed.
    enum Cell: Encodable, Equatable {
        case null
        case int(Int64)
        case text(String)

        init(_ text: String?) { self = text.map(Cell.text) ?? .null }
        init(_ number: Int64?) { self = number.map(Cell.int) ?? .null }
        init(_ number: Int?) { self.init(number.map(Int64.init)) }
        /// SQLite's 0 / 1.
        init(_ flag: Bool?) { self.init(flag.map { Int64($0 ? 1 : 0) }) }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            switch self {
            case .null: try container.encodeNil()
            case .int(let number): try container.encode(number)
            case .text(let text): try container.encode(text)
            }
        }

        var description: String {
            switch self {
            case .null: ""
            case .int(let number): String(number)
            case .text(let text): text
            }
        }
    }

    let order: [String: Cell]
    let attempts: [[String: Cell]]

    init(_ detail: OrderDetail) {
        order = Self.columns(detail.order)
        attempts = detail.attempts.map(Self.columns)
    }

    static func columns(_ order: OrderDetail.Order) -> [String: Cell] {
        [
            "id": .int(order.id), "mch_id": .text(order.mchID), "appid": .text(order.appID),
            "out_trade_no": .text(order.outTradeNo), "sub_mch_id": Cell(order.subMchID), "sub_appid": Cell(order.subAppID),
            "created_at": .int(order.createdAt), "timeout_seconds": .int(order.timeoutSeconds),
            "status": .text(order.status.rawValue), "outcome": Cell(order.outcome?.rawValue),
            "attempts": Cell(order.attempts), "last_error": Cell(order.lastError), "last_err_code": Cell(order.lastErrCode),
            "transaction_id": Cell(order.transactionID), "in_doubt": Cell(order.inDoubt), "conflict": Cell(order.conflict),
            "first_attempt_ms": Cell(order.firstAttemptMs), "last_attempt_ms": Cell(order.lastAttemptMs),
            "finished_ms": Cell(order.finishedMs), "retry_at_ms": Cell(order.retryAtMs), "lease_owner": Cell(order.leaseOwner),
            "lease_token": Cell(order.leaseToken), "lease_expires_ms": Cell(order.leaseExpiresMs),
            "next_attempt_ms": .int(order.nextAttemptMs),
        ]
    }

    static func columns(_ attempt: OrderDetail.Attempt) -> [String: Cell] {
        [
            "id": .int(attempt.id), "order_id": .int(attempt.orderID), "mch_id": .text(attempt.mchID),
            "out_trade_no": .text(attempt.outTradeNo), "attempt": Cell(attempt.attempt),
            "operation": .text(attempt.call.rawValue), "started_ms": .int(attempt.startedMs),
            "finished_ms": .int(attempt.finishedMs), "duration_ms": .int(attempt.durationMs),
            "endpoint": Cell(attempt.endpoint), "http_status": Cell(attempt.httpStatus), "return_code": Cell(attempt.returnCode),
            "return_msg": Cell(attempt.returnMsg), "result_code": Cell(attempt.resultCode), "err_code": Cell(attempt.errCode),
            "err_code_des": Cell(attempt.errCodeDes), "outcome": .text(attempt.outcome.rawValue), "error": Cell(attempt.error),
            "verified": Cell(attempt.verified),
        ]
    }

    /// The attempt columns a line shows, in this order; the others (ids, finished_ms, verified)
    /// are in `--json`.
    static let attemptLine = [
        "attempt", "operation", "started_ms", "duration_ms", "endpoint", "http_status", "return_code", "return_msg",
        "result_code", "err_code", "err_code_des", "outcome", "error",
    ]

    /// For people: the order's set columns by name (not the lease), unix ms times in ISO-8601
    /// with their distance from `now`, then one `key=value` line per attempt.
    func lines(now: Int64) -> [String] {
        func readable(_ column: String, _ value: Cell) -> String {
            guard case .int(let number) = value else { return shown(value.description) }
            if column.hasSuffix("_ms") { return TimeText.both(number, now: now) }
            if column == "created_at" { return "\(number) (\(TimeText.both(number * 1000, now: now)))" }
            return value.description
        }
        var lines: [String] = []
        for column in order.keys.sorted() where order[column] != .null && !column.hasPrefix("lease") {
            lines.append("\(column): \(readable(column, order[column]!))")
        }
        lines.append("close_attempts (\(attempts.count)):")
        for attempt in attempts {
            let fields = Self.attemptLine.compactMap { key -> String? in
                guard let value = attempt[key], value != .null else { return nil }
                // key=value tokens hold no spaces: the start as ISO-8601 alone.
                if key == "started_ms", case .int(let ms) = value { return "started=\(TimeText.iso8601(ms))" }
                return "\(key)=\(shown(value.description))"
            }
            lines.append("  " + fields.joined(separator: " "))
        }
        return lines
    }
}
