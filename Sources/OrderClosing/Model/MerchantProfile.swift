/// A merchant the daemon may close orders for: its handle (API and credentials, the adapter's),
/// the app ids it owns, and its rate.
public struct MerchantProfile: Sendable, Equatable {
    public let merchant: any MerchantHandle
    public let appIDs: Set<String>
    /// Orders per second sent for this merchant (token bucket rate), and the burst allowed.
    public let ratePerSecond: Double
    public let burst: Double

    public init(merchant: any MerchantHandle, appIDs: Set<String>, ratePerSecond: Double = 100, burst: Double = 100) {
        self.merchant = merchant
        self.appIDs = appIDs
        self.ratePerSecond = ratePerSecond
        self.burst = burst
    }

    public var mchID: String { merchant.mchID }
    public var api: MerchantAPI { merchant.api }

    public static func == (lhs: MerchantProfile, rhs: MerchantProfile) -> Bool {
        lhs.merchant.sameCredentials(as: rhs.merchant) && lhs.appIDs == rhs.appIDs
            && lhs.ratePerSecond == rhs.ratePerSecond && lhs.burst == rhs.burst
    }
}
