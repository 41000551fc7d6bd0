import OrderClosing
import WeChatPayV2

/// A merchant on API v2, as its adapter (`WeChatPayHTTPGateway`) uses it: the key and sign type
/// that sign its requests and verify WeChat Pay's answers.
public struct V2Merchant: MerchantHandle, Hashable {
    public let credentials: MerchantCredentials

    public init(credentials: MerchantCredentials) {
        self.credentials = credentials
    }

    public var mchID: String { credentials.mchID }
    public var api: MerchantAPI { .v2 }

    /// v2's id rules (`OrderReference`): `out_trade_no` 1–32 of `[0-9A-Za-z_-|*@]`, ids ≤ 32 characters.
    public func refusal(of order: OrderKey) -> String? {
        do {
            _ = try OrderReference(order)
            return nil
        } catch {
            return error.message
        }
    }

    public func sameCredentials(as other: any MerchantHandle) -> Bool {
        (other as? V2Merchant) == self
    }
}
