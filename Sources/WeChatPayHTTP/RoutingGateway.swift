import GatewayVocabulary
import OrderClosing

/// Sends each merchant's calls to the adapter of its API (`MerchantHandle.api`). The worker sees
/// one `WeChatPayGateway` and the same outcomes from every API, so its decisions, retries,
/// circuits and audit rows do not know which API answered.
///
/// The route is the handle's: a call in flight keeps the merchant (API and credentials) its order
/// started with, whatever a reload (SIGHUP) installs meanwhile. Adding an API is one adapter and
/// one entry in `adapters`.
public final class RoutingGateway: WeChatPayGateway {
    let adapters: [MerchantAPI: any WeChatPayGateway]

    public init(adapters: [MerchantAPI: any WeChatPayGateway]) {
        self.adapters = adapters
    }

    /// The daemon's two APIs on one shared transport (one failover state).
    public convenience init(transport: WeChatPayTransport) {
        self.init(adapters: [
            .v2: WeChatPayHTTPGateway(transport: transport),
            .v3: WeChatPayV3HTTPGateway(transport: transport),
        ])
    }

    public func closeOrder(_ order: OrderKey, merchant: any MerchantHandle) async -> GatewayResponse<CloseOutcome> {
        guard let adapter = adapters[merchant.api] else {
            return GatewayResponse(
                outcome: .configurationError(.other(Self.unserved(merchant))), summary: ResponseSummary(), endpoint: nil,
                delivered: false)
        }
        return await adapter.closeOrder(order, merchant: merchant)
    }

    public func queryOrder(_ order: OrderKey, merchant: any MerchantHandle) async -> GatewayResponse<QueryOutcome> {
        guard let adapter = adapters[merchant.api] else {
            return GatewayResponse(
                outcome: .configurationError(.other(Self.unserved(merchant))), summary: ResponseSummary(), endpoint: nil,
                delivered: false)
        }
        return await adapter.queryOrder(order, merchant: merchant)
    }

    public func probeMerchant(_ probe: MerchantProbe, appID: String, merchant: any MerchantHandle) async -> GatewayResponse<
        QueryOutcome
    > {
        guard let adapter = adapters[merchant.api] else {
            return GatewayResponse(
                outcome: .configurationError(.other(Self.unserved(merchant))), summary: ResponseSummary(), endpoint: nil,
                delivered: false)
        }
        return await adapter.probeMerchant(probe, appID: appID, merchant: merchant)
    }

    static func unserved(_ merchant: any MerchantHandle) -> String {
        "no gateway serves \(merchant.api) (mch_id \(merchant.mchID))"
    }
}
