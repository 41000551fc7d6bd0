import OrderClosing
import WeChatPayV2

/// A merchant handle for unit tests with a scripted gateway: no credentials, v2's id rules (a row
/// v2 could not carry is refused as the daemon's v2 adapter refuses it).
public struct ScriptedMerchant: MerchantHandle, Hashable {
    public let mchID: String
    public let api: MerchantAPI

    public init(_ mchID: String, api: MerchantAPI = .v2) {
        self.mchID = mchID
        self.api = api
    }

    public func refusal(of order: OrderKey) -> String? {
        do {
            _ = try OrderReference(order)
            return nil
        } catch {
            return error.message
        }
    }

    public func sameCredentials(as other: any MerchantHandle) -> Bool {
        (other as? ScriptedMerchant) == self
    }
}
