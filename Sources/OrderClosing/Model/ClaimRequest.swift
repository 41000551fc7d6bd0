/// The circuit an order belongs to: the merchant, or in service-provider mode the sub-merchant,
/// so that one sub-merchant's setup fault never pauses the provider's other sub-merchants.
public struct CircuitKey: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let mchID: String
    /// nil (or empty in the row) for an ordinary merchant.
    public let subMchID: String?

    public init(mchID: String, subMchID: String?) {
        self.mchID = mchID
        self.subMchID = subMchID.flatMap { $0.isEmpty ? nil : $0 }
    }

    public init(_ order: ClaimedOrder) {
        self.init(mchID: order.mchID, subMchID: order.subMchID)
    }

    public var description: String { subMchID.map { "\(mchID)/\($0)" } ?? mchID }

    public static func < (lhs: CircuitKey, rhs: CircuitKey) -> Bool {
        (lhs.mchID, lhs.subMchID ?? "") < (rhs.mchID, rhs.subMchID ?? "")
    }
}

/// Which due orders one claim may lease. Built by `MerchantGate` from the merchants' circuits,
/// pauses and rate tokens, so that every claimed order can start its call at once: an order
/// never waits for a rate token while its lease runs (issue 10, defect 1).
public struct ClaimRequest: Sendable, Hashable {
    /// Orders leased at most, over all merchants.
    public var limit: Int
    /// Merchants none of whose orders may be claimed (paused, unavailable, out of rate tokens).
    public var excludedMerchants: Set<String>
    /// Circuits that are open: orders of that merchant (and sub-merchant) stay put.
    public var excludedCircuits: Set<CircuitKey>
    /// Merchants that may have at most this many orders claimed (their rate tokens left).
    public var merchantLimits: [String: Int]

    public init(
        limit: Int, excludedMerchants: Set<String> = [], excludedCircuits: Set<CircuitKey> = [],
        merchantLimits: [String: Int] = [:]
    ) {
        self.limit = limit
        self.excludedMerchants = excludedMerchants
        self.excludedCircuits = excludedCircuits
        self.merchantLimits = merchantLimits
    }

    /// Whether an order of this merchant and sub-merchant may be claimed at all.
    public func admits(mchID: String, subMchID: String?) -> Bool {
        !excludedMerchants.contains(mchID) && merchantLimits[mchID].map { $0 > 0 } ?? true
            && !excludedCircuits.contains(CircuitKey(mchID: mchID, subMchID: subMchID))
    }
}
