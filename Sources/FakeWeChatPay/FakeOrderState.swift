import WeChatPayV2

/// WeChat's view of an order.
public enum FakeOrderState: String, Sendable, Hashable {
    case notPay = "NOTPAY", paid = "SUCCESS", closed = "CLOSED"
}
