import AsyncHTTPClient
import GatewayVocabulary
import Logging
import NIOHTTP1
import OrderClosing
import WeChatPayV2

/// The `WeChatPayGateway` for API v2: signs the call, POSTs the XML through the shared
/// `WeChatPayTransport` (timeouts, failover, at most one POST that may have reached WeChat Pay),
/// and classifies the answer.
public final class WeChatPayHTTPGateway: WeChatPayGateway {
    /// Answers longer than this are refused before they are parsed.
    static let maximumAnswerSize = StrictXMLDecoder.maximumSize + 1

    public let transport: WeChatPayTransport

    /// A gateway on a transport shared with the v3 gateway (the daemon: one failover state).
    public init(transport: WeChatPayTransport) {
        self.transport = transport
    }

    /// A gateway with a transport of its own.
    /// - Parameter client: made with `makeClient(settings:)`; the caller shuts it down.
    public convenience init(client: HTTPClient, settings: GatewaySettings, clock: any OrderClock, logger: Logger) {
        self.init(transport: WeChatPayTransport(client: client, settings: settings, clock: clock, logger: logger))
    }

    /// See `WeChatPayTransport.makeClient(settings:)`.
    public static func makeClient(settings: GatewaySettings) throws -> HTTPClient {
        try WeChatPayTransport.makeClient(settings: settings)
    }

    /// The endpoint in use now, for status and metrics.
    public var currentEndpoint: String { transport.currentEndpoint }

    /// The endpoint not in use (nil without failover).
    public var otherEndpoint: String? { transport.otherEndpoint }

    /// The port: a `V2Merchant`'s order, checked against v2's rules (a row the worker let through
    /// always passes; a handle of another API is refused, nothing sent).
    public func closeOrder(_ order: OrderKey, merchant: any MerchantHandle) async -> GatewayResponse<CloseOutcome> {
        switch Self.unpack(order, merchant) {
        case .success(let (reference, v2)): await closeOrder(reference, credentials: v2.credentials)
        case .failure(let refusal):
            GatewayResponse(
                outcome: .orderRejected(refusal.description), summary: ResponseSummary(), endpoint: nil, delivered: false)
        }
    }

    public func queryOrder(_ order: OrderKey, merchant: any MerchantHandle) async -> GatewayResponse<QueryOutcome> {
        switch Self.unpack(order, merchant) {
        case .success(let (reference, v2)): await queryOrder(reference, credentials: v2.credentials)
        case .failure(let refusal):
            GatewayResponse(
                outcome: .orderRejected(refusal.description), summary: ResponseSummary(), endpoint: nil, delivered: false)
        }
    }

    struct Refusal: Error, CustomStringConvertible {
        let description: String
    }

    static func unpack(_ order: OrderKey, _ merchant: any MerchantHandle) -> Result<(OrderReference, V2Merchant), Refusal> {
        guard let v2 = merchant as? V2Merchant else {
            return .failure(Refusal(description: "mch_id \(merchant.mchID) is on \(merchant.api), not API v2"))
        }
        do {
            return .success((try OrderReference(order), v2))
        } catch {
            return .failure(Refusal(description: "API v2: \(error.message)"))
        }
    }

    /// The v2 call, for a merchant's own credentials.
    public func closeOrder(_ order: OrderReference, credentials: MerchantCredentials) async -> GatewayResponse<CloseOutcome> {
        await call(
            .closeOrder, order: order, credentials: credentials,
            classify: ResponseClassifier.classifyClose, failure: CloseOutcome.retryable)
    }

    public func queryOrder(_ order: OrderReference, credentials: MerchantCredentials) async -> GatewayResponse<QueryOutcome> {
        await call(
            .orderQuery, order: order, credentials: credentials,
            classify: ResponseClassifier.classifyQuery, failure: QueryOutcome.retryable)
    }

    private func call<Outcome: Sendable>(
        _ operation: Operation, order: OrderReference, credentials: MerchantCredentials,
        classify: (Int, [UInt8], OrderReference, MerchantCredentials) -> (Outcome, ResponseSummary),
        failure: (RetryReason) -> Outcome
    ) async -> GatewayResponse<Outcome> {
        let signed: SignedRequest
        do {
            signed = try SignedRequest(operation, order: order, credentials: credentials, nonce: Nonce.make())
        } catch {
            return GatewayResponse(
                outcome: failure(.unparseable("request not built: \(error.message)")),
                summary: ResponseSummary(), endpoint: nil, delivered: false)
        }
        let request = WeChatPayTransport.Request(
            method: .POST, path: operation.path,
            headers: [("Content-Type", "text/xml; charset=utf-8"), ("User-Agent", "closeorderd")],
            body: signed.body, maximumAnswerSize: Self.maximumAnswerSize)
        let exchange = await transport.send(request)
        switch exchange.result {
        case .success(let answer):
            let (outcome, summary) = classify(answer.status, answer.body, order, credentials)
            return GatewayResponse(outcome: outcome, summary: summary, endpoint: exchange.endpoint)
        case .failure(let transportFailure):
            return GatewayResponse(
                outcome: failure(transportFailure.reason), summary: ResponseSummary(),
                endpoint: exchange.endpoint, delivered: exchange.delivered)
        }
    }
}
