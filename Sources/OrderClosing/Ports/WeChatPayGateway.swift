@_exported import GatewayVocabulary

/// Speaks to WeChat Pay, whichever API the merchant uses. The daemon's adapter is
/// `WeChatPayHTTP`'s `RoutingGateway` (one adapter per API, chosen by `MerchantHandle.api`);
/// tests script their own.
///
/// The domain hands an order's key and the merchant's handle; the adapter owns the credentials
/// and its wire types. A gateway never decides an order's fate: it returns the typed outcome and what it saw.
public protocol WeChatPayGateway: Sendable {
    func closeOrder(_ order: OrderKey, merchant: any MerchantHandle) async -> GatewayResponse<CloseOutcome>
    func queryOrder(_ order: OrderKey, merchant: any MerchantHandle) async -> GatewayResponse<QueryOutcome>
    /// Queries a made-up order (`MerchantProbe`) as `appID`: the answer proves or refutes the
    /// merchant's setup and touches no real order. No order owns it, so no audit row records it.
    func probeMerchant(_ probe: MerchantProbe, appID: String, merchant: any MerchantHandle) async -> GatewayResponse<QueryOutcome>
}

extension WeChatPayGateway {
    /// The order query (v2 `pay/orderquery`, v3 `GET …/out-trade-no/{no}`) for a fresh made-up number.
    public func probeMerchant(_ probe: MerchantProbe, appID: String, merchant: any MerchantHandle) async -> GatewayResponse<
        QueryOutcome
    > {
        let order = probe.madeUpOrder(appID: appID, number: MerchantProbe.madeUpNumber())
        if let refusal = merchant.refusal(of: order) {
            return GatewayResponse(
                outcome: .retryable(.unparseable("probe not built: \(refusal)")), summary: ResponseSummary(),
                endpoint: nil, delivered: false)
        }
        return await queryOrder(order, merchant: merchant)
    }
}

/// One call's result, with the endpoint it actually used.
public struct GatewayResponse<Outcome: Sendable>: Sendable {
    public let outcome: Outcome
    public let summary: ResponseSummary
    /// The base URL used, e.g. `https://api2.mch.weixin.qq.com` after a failover.
    public let endpoint: String?
    /// False when no endpoint was reachable, so WeChat cannot have seen the request.
    public let delivered: Bool

    public init(outcome: Outcome, summary: ResponseSummary, endpoint: String?, delivered: Bool = true) {
        self.outcome = outcome
        self.summary = summary
        self.endpoint = endpoint
        self.delivered = delivered
    }
}
