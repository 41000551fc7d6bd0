/// What an operator can do to orders by hand, as a queue tool lets one (River, Oban, Sidekiq):
/// each action moves orders from the states it applies to, and says for every named order it
/// leaves alone why. A dry run reports the same without writing.
///
/// | action      | applies to | the order becomes                                             |
/// |-------------|------------|---------------------------------------------------------------|
/// | `requeue`   | failed     | pending, attempts 0, due now (a fresh budget)                  |
/// | `retry-now` | pending    | pending, due now (skips the rest of its backoff)               |
/// | `abandon`   | pending    | failed, never sent again, with the operator's reason           |
///
/// An order being closed (`closing`) is never touched: its call is in flight; try again after it.
public enum OrderAction: Sendable, Hashable {
    case requeue
    case retryNow
    case abandon(reason: String)

    public var name: String {
        switch self {
        case .requeue: "requeue"
        case .retryNow: "retry-now"
        case .abandon: "abandon"
        }
    }

    /// The status the action applies to.
    public var from: OrderStatus {
        switch self {
        case .requeue: .failed
        case .retryNow, .abandon: .pending
        }
    }

    /// Why an order in `status` is left alone, or nil when the action applies to it.
    public func refusal(status: String) -> String? {
        guard status != from.rawValue else { return nil }
        return status == OrderStatus.closing.rawValue
            ? "it is closing (a call is in flight); try again once it is decided"
            : "it is \(status), not \(from.rawValue)"
    }

    /// Why a named out_trade_no matched no row.
    public static func noSuchOrder(mchID: String?) -> String {
        "no such order" + (mchID.map { " for mch_id \($0)" } ?? "")
    }

    /// `last_error` after the action, from the row's `last_error` before it.
    ///
    /// | action      | last_error becomes                                        |
    /// |-------------|-----------------------------------------------------------|
    /// | `requeue`   | requeued by an operator; was: <old, or "no error">        |
    /// | `retry-now` | retried now by an operator; was: <old, or "no error">     |
    /// | `abandon`   | abandoned by an operator: <reason>                        |
    public func lastError(was old: String?) -> String {
        switch self {
        case .requeue: "requeued by an operator; was: " + (old ?? "no error")
        case .retryNow: "retried now by an operator; was: " + (old ?? "no error")
        case .abandon(let reason): "abandoned by an operator: " + reason
        }
    }
}

/// Which orders an action names: some out_trade_nos, or every order it applies to.
public struct OrderSelection: Sendable, Hashable {
    public var outTradeNos: [String]
    public var mchID: String?
    /// Every order in the action's `from` state (of `mchID`, if given).
    public var all: Bool

    public init(outTradeNos: [String], mchID: String? = nil, all: Bool = false) {
        self.outTradeNos = outTradeNos
        self.mchID = mchID
        self.all = all
    }
}

/// What an action did: how many orders it moved (or would move), and each named order it left
/// alone, with why.
public struct OrderActionReport: Sendable, Codable {
    public struct Skipped: Sendable, Codable, Hashable {
        public let outTradeNo: String
        /// nil when no order has that out_trade_no.
        public let mchID: String?
        public let reason: String

        public init(outTradeNo: String, mchID: String?, reason: String) {
            self.outTradeNo = outTradeNo
            self.mchID = mchID
            self.reason = reason
        }
    }

    public let moved: Int
    public let skipped: [Skipped]

    public init(moved: Int, skipped: [Skipped]) {
        self.moved = moved
        self.skipped = skipped
    }
}
