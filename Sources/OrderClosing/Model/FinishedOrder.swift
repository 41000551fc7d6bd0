/// One order as the outcome feed hands it to the merchant's app: who it is, how it ended, and
/// where it stands in the feed (`cursor`).
public struct FinishedOrder: Sendable, Hashable {
    public let id: Int64
    public let finishedMs: Int64
    public let mchID: String
    public let subMchID: String?
    public let outTradeNo: String
    /// `closed`, `paid` or `failed`.
    public let status: OrderStatus
    /// What WeChat answered (`closed`, `already_closed`, `not_exist`, `paid`); nil for a row the
    /// app marked paid, and for most `failed` rows.
    public let outcome: String?
    public let transactionID: String?
    /// Set when WeChat contradicted itself, or when the app's `paid` raced a close.
    public let conflict: String?
    public let lastError: String?
    public let attempts: Int

    public init(
        id: Int64, finishedMs: Int64, mchID: String, subMchID: String?, outTradeNo: String, status: OrderStatus,
        outcome: String?, transactionID: String?, conflict: String?, lastError: String?, attempts: Int
    ) {
        self.id = id
        self.finishedMs = finishedMs
        self.mchID = mchID
        self.subMchID = subMchID
        self.outTradeNo = outTradeNo
        self.status = status
        self.outcome = outcome
        self.transactionID = transactionID
        self.conflict = conflict
        self.lastError = lastError
        self.attempts = attempts
    }

    /// The cursor to read on from once this order has been handled.
    public var cursor: FeedCursor { FeedCursor(finishedMs: finishedMs, id: id) }
}
