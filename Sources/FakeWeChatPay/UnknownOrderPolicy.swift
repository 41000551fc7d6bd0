import WeChatPayV2

/// What the fake does with a close or query of an order it was never told about.
public enum UnknownOrderPolicy: String, Sendable {
    /// Answer ORDERNOTEXIST, as WeChat does for an order it has never seen.
    case notExist
    /// Treat it as an unpaid order created long ago (for running the fake alongside a real app).
    case notPay
}
