import WeChatPayV3

/// Which WeChat Pay API serves a merchant. The worker needs it only for the rows it can refuse
/// before sending: v3's `out_trade_no` rule is narrower than v2's (`V3OrderReference`).
public enum MerchantAPI: String, Sendable, Hashable, CaseIterable {
    case v2, v3

    /// Why a row's `out_trade_no` cannot be sent on this API, or nil when it can.
    public func outTradeNoViolation(_ outTradeNo: String) -> String? {
        switch self {
        case .v2: nil
        case .v3: V3OrderReference.outTradeNoViolation(outTradeNo)
        }
    }
}
