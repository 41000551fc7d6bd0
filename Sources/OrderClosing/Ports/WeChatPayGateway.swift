import WeChatPayV2

/// Speaks to WeChat Pay. One adapter: `WeChatPayHTTP`'s gateway; tests script their own.
///
/// A gateway never decides an order's fate: it returns the typed outcome and what it saw.
public protocol WeChatPayGateway: Sendable {
    func closeOrder(_ order: OrderReference, credentials: MerchantCredentials) async -> GatewayResponse<CloseOutcome>
    func queryOrder(_ order: OrderReference, credentials: MerchantCredentials) async -> GatewayResponse<QueryOutcome>
    /// Queries a made-up order (`MerchantProbe`) as `appID`: the answer proves or refutes the
    /// merchant's setup and touches no real order. No order owns it, so no audit row records it.
    func probeMerchant(_ probe: MerchantProbe, appID: String, credentials: MerchantCredentials) async -> GatewayResponse<QueryOutcome>
}

extension WeChatPayGateway {
    /// The order query (v2 `pay/orderquery`, v3 `GET …/out-trade-no/{no}`) for a fresh made-up number.
    public func probeMerchant(_ probe: MerchantProbe, appID: String, credentials: MerchantCredentials) async -> GatewayResponse<QueryOutcome> {
        do {
            return await queryOrder(try probe.madeUpOrder(appID: appID, number: MerchantProbe.madeUpNumber()), credentials: credentials)
        } catch {
            return GatewayResponse(outcome: .retryable(.unparseable("probe not built: \(error.message)")), summary: ResponseSummary(),
                                   endpoint: nil, delivered: false)
        }
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
