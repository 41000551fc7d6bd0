import WeChatPayV2

/// A merchant the fake knows, with the key it verifies requests with.
public struct FakeMerchant: Sendable {
    public let mchID: String
    public let key: APIKey
    public let appIDs: Set<String>
    /// Service providers may send `sub_mch_id`; ordinary merchants get return_code FAIL if they do.
    public let isServiceProvider: Bool
    /// A service provider's authorised sub-merchants; empty means any. Others get a signed NOAUTH.
    public let subMerchants: Set<String>

    public init(mchID: String, key: APIKey, appIDs: Set<String>, isServiceProvider: Bool = false, subMerchants: Set<String> = [])
    {
        self.mchID = mchID
        self.key = key
        self.appIDs = appIDs
        self.isServiceProvider = isServiceProvider
        self.subMerchants = subMerchants
    }
}
