/// What signs a merchant's requests and verifies WeChat's answers to them.
public struct MerchantCredentials: Sendable, Hashable {
    public let mchID: String
    public let signType: SignType
    public let key: APIKey

    public init(mchID: String, signType: SignType, key: APIKey) {
        self.mchID = mchID
        self.signType = signType
        self.key = key
    }
}
