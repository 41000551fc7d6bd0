import WeChatPayV2

/// A merchant the daemon may close orders for: its credentials and the app ids it owns.
public struct MerchantProfile: Sendable, Hashable {
    public let credentials: MerchantCredentials
    public let appIDs: Set<String>
    /// Orders per second sent for this merchant (token bucket rate), and the burst allowed.
    public let ratePerSecond: Double
    public let burst: Double
    /// v2 or v3. A v3 merchant's `credentials` carry only its mch_id that matters; the gateway
    /// (`RoutingGateway`) holds its v3 keys.
    public let api: MerchantAPI

    public init(credentials: MerchantCredentials, appIDs: Set<String>, ratePerSecond: Double = 100, burst: Double = 100,
                api: MerchantAPI = .v2) {
        self.credentials = credentials
        self.api = api
        self.appIDs = appIDs
        self.ratePerSecond = ratePerSecond
        self.burst = burst
    }

    public var mchID: String { credentials.mchID }
}
