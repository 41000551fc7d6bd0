import NIOConcurrencyHelpers
import OrderClosing
import WeChatPayV2

/// Sends each merchant's orders to its API: v3 for the merchants in its v3 table, v2 for the rest.
/// The worker sees one `WeChatPayGateway` and the same outcomes from both, so its decisions,
/// retries, circuits and audit rows do not know which API answered.
///
/// The v3 table is swapped whole on reload (SIGHUP); a call in flight keeps the merchant it started with.
public final class RoutingGateway: WeChatPayGateway {
    let v2: any WeChatPayGateway
    let v3: WeChatPayV3HTTPGateway
    let v3Merchants: NIOLockedValueBox<[String: V3Merchant]>

    public init(v2: any WeChatPayGateway, v3: WeChatPayV3HTTPGateway, v3Merchants: [String: V3Merchant]) {
        self.v2 = v2
        self.v3 = v3
        self.v3Merchants = NIOLockedValueBox(v3Merchants)
    }

    /// Installs a new v3 table (reload). Platform certificates already fetched for a merchant whose
    /// verification did not change are kept by the caller passing the same cache.
    public func replaceV3Merchants(_ merchants: [String: V3Merchant]) {
        v3Merchants.withLockedValue { $0 = merchants }
    }

    /// The v3 merchant for `mchID`, if it is one.
    public func v3Merchant(_ mchID: String) -> V3Merchant? {
        v3Merchants.withLockedValue { $0[mchID] }
    }

    public func closeOrder(_ order: OrderReference, credentials: MerchantCredentials) async -> GatewayResponse<CloseOutcome> {
        if let merchant = v3Merchant(credentials.mchID) { return await v3.closeOrder(order, merchant: merchant) }
        return await v2.closeOrder(order, credentials: credentials)
    }

    public func queryOrder(_ order: OrderReference, credentials: MerchantCredentials) async -> GatewayResponse<QueryOutcome> {
        if let merchant = v3Merchant(credentials.mchID) { return await v3.queryOrder(order, merchant: merchant) }
        return await v2.queryOrder(order, credentials: credentials)
    }
}
