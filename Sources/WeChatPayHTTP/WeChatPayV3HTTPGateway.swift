import AsyncHTTPClient
import GatewayVocabulary
import Logging
import NIOHTTP1
import OrderClosing
import WeChatPayV3

/// API v3 on the shared `WeChatPayTransport`: signs the call (`SignedV3Request`), sends the close
/// (POST) or query (GET), verifies and classifies the answer (`V3ResponseClassifier`). Timeouts and
/// failover are the transport's, the same as v2's, so one call sends at most one request that may
/// have reached WeChat Pay.
///
/// Platform certificates, for merchants that use them, are fetched before a call when
/// `PlatformCertificateCache` says so; a fetch never counts as the order's attempt.
public final class WeChatPayV3HTTPGateway: WeChatPayGateway {
    /// Answers longer than this are not WeChat Pay's (a close answers nothing, a query ~1 KiB).
    static let maximumAnswerSize = 256 * 1024

    public let transport: WeChatPayTransport
    var clock: any OrderClock { transport.clock }
    var logger: Logger { transport.logger }

    /// A gateway on a transport shared with the v2 gateway (the daemon: one failover state).
    public init(transport: WeChatPayTransport) {
        self.transport = transport
    }

    /// A gateway with a transport of its own.
    public convenience init(client: HTTPClient, settings: GatewaySettings, clock: any OrderClock, logger: Logger) {
        self.init(transport: WeChatPayTransport(client: client, settings: settings, clock: clock, logger: logger))
    }

    /// The port: a `V3Merchant`'s order (a handle of another API is refused, nothing sent).
    public func closeOrder(_ order: OrderKey, merchant: any MerchantHandle) async -> GatewayResponse<CloseOutcome> {
        guard let v3 = merchant as? V3Merchant else {
            return GatewayResponse(
                outcome: .orderRejected(Self.notV3(merchant)), summary: ResponseSummary(), endpoint: nil, delivered: false)
        }
        return await closeOrder(order, merchant: v3)
    }

    public func queryOrder(_ order: OrderKey, merchant: any MerchantHandle) async -> GatewayResponse<QueryOutcome> {
        guard let v3 = merchant as? V3Merchant else {
            return GatewayResponse(
                outcome: .orderRejected(Self.notV3(merchant)), summary: ResponseSummary(), endpoint: nil, delivered: false)
        }
        return await queryOrder(order, merchant: v3)
    }

    static func notV3(_ merchant: any MerchantHandle) -> String {
        "mch_id \(merchant.mchID) is on \(merchant.api), not API v3"
    }

    public func closeOrder(_ order: OrderKey, merchant: V3Merchant) async -> GatewayResponse<CloseOutcome> {
        await call(
            .close, order: order, merchant: merchant, classify: V3ResponseClassifier.classifyClose,
            failure: CloseOutcome.retryable, configuration: { CloseOutcome.configurationError(.other($0)) },
            rejected: CloseOutcome.orderRejected)
    }

    public func queryOrder(_ order: OrderKey, merchant: V3Merchant) async -> GatewayResponse<QueryOutcome> {
        await call(
            .query, order: order, merchant: merchant, classify: V3ResponseClassifier.classifyQuery,
            failure: QueryOutcome.retryable, configuration: { QueryOutcome.configurationError(.other($0)) },
            rejected: QueryOutcome.orderRejected)
    }

    private func call<Outcome: Sendable>(
        _ kind: V3Request.Call, order: OrderKey, merchant: V3Merchant,
        classify: (V3Answer, V3Request, WeChatPayKeys, Int64) -> (Outcome, ResponseSummary),
        failure: (RetryReason) -> Outcome, configuration: (String) -> Outcome, rejected: (String) -> Outcome
    ) async -> GatewayResponse<Outcome> {
        let reference: V3OrderReference
        do {
            reference = try V3OrderReference(order)
        } catch {
            return GatewayResponse(
                outcome: rejected("API v3: \(error.message)"), summary: ResponseSummary(), endpoint: nil, delivered: false)
        }
        let keys: WeChatPayKeys
        switch await verificationKeys(merchant) {
        case .success(let held): keys = held
        case .failure(let problem):
            let outcome = problem.isConfiguration ? configuration(problem.message) : failure(.connection(problem.message))
            return GatewayResponse(outcome: outcome, summary: ResponseSummary(), endpoint: nil, delivered: false)
        }
        let request = kind == .close ? V3Request.close(reference) : V3Request.query(reference)
        let result = await exchange(request, credentials: merchant.credentials)
        switch result.answer {
        case .success(let answer):
            let (outcome, summary) = classify(answer, request, keys, clock.now() / 1000)
            if let cache = merchant.certificateCache, let serial = answer.serial, keys.key(forSerial: serial) == nil {
                cache.sawUnknownSerial(now: clock.now())
            }
            return GatewayResponse(outcome: outcome, summary: summary, endpoint: result.endpoint)
        case .failure(.notBuilt(let problem)):
            return GatewayResponse(
                outcome: failure(.unparseable("request not built: \(problem)")), summary: ResponseSummary(),
                endpoint: nil, delivered: false)
        case .failure(.transport(let transportFailure)):
            return GatewayResponse(
                outcome: failure(transportFailure.reason), summary: ResponseSummary(),
                endpoint: result.endpoint, delivered: result.delivered)
        }
    }

    struct KeyProblem: Error {
        let message: String
        /// A wrong APIv3 key or an unusable certificate list: the merchant's setup, not the network.
        let isConfiguration: Bool
    }

    /// The keys that verify this merchant's answers, fetching platform certificates when due.
    func verificationKeys(_ merchant: V3Merchant) async -> Result<WeChatPayKeys, KeyProblem> {
        switch merchant.verification {
        case .publicKey(let keys):
            return .success(keys)
        case .platformCertificates(let apiV3Key, let cache):
            return await certificateKeys(merchant, apiV3Key: apiV3Key, cache: cache, publicKey: nil)
        case .publicKeyAndPlatformCertificates(let publicKey, let apiV3Key, let cache):
            return await certificateKeys(merchant, apiV3Key: apiV3Key, cache: cache, publicKey: publicKey)
        }
    }

    /// The held platform certificates (fetched when due), with the public key when the merchant
    /// configured both. With the public key, a failed fetch never stops a call: it is retried
    /// hourly (or a minute after an answer names an unknown serial) while the public key verifies.
    private func certificateKeys(
        _ merchant: V3Merchant, apiV3Key: APIv3Key, cache: PlatformCertificateCache,
        publicKey: WeChatPayKeys?
    ) async -> Result<WeChatPayKeys, KeyProblem> {
        func withPublicKey(_ certificates: WeChatPayKeys?) -> WeChatPayKeys? {
            guard let publicKey else { return certificates }
            return certificates.map { publicKey.adding($0) } ?? publicKey
        }
        guard cache.needsFetch(now: clock.now()) else {
            return withPublicKey(cache.keys).map { .success($0) }
                ?? .failure(KeyProblem(message: "no platform certificate held", isConfiguration: false))
        }
        switch await fetchCertificates(credentials: merchant.credentials, apiV3Key: apiV3Key, alsoTrusting: publicKey) {
        case .success(let fetched):
            let held = cache.install(fetched, now: clock.now())
            let expired = Set(fetched.serials).subtracting(held.serials).sorted()
            if held.serials.isEmpty {
                logger.error(
                    "platform certificates fetched, but every one listed has expired; trying again in a minute",
                    metadata: ["mch_id": "\(merchant.mchID)", "expired": "\(expired.joined(separator: ","))"])
            } else {
                logger.info(
                    "platform certificates fetched",
                    metadata: [
                        "mch_id": "\(merchant.mchID)", "serials": "\(held.serials.joined(separator: ","))",
                        "expired_dropped": "\(expired.joined(separator: ","))",
                    ])
            }
            return .success(withPublicKey(held) ?? held)
        case .failure(let problem):
            cache.fetchFailed(
                now: clock.now(),
                retryAfterMs: publicKey == nil
                    ? PlatformCertificateCache.retryAfterFailureMs
                    : PlatformCertificateCache.refreshIntervalMs)
            if let keys = withPublicKey(cache.keys) {
                logger.warning(
                    "platform certificates not refreshed; verifying with the \(keys.mode.rawValue) held: \(problem.message)",
                    metadata: ["mch_id": "\(merchant.mchID)"])
                return .success(keys)
            }
            return .failure(problem)
        }
    }

    /// `GET /v3/certificates`, decrypted with the APIv3 key; the answer must verify with one of
    /// the certificates it carries (the AEAD tag already proves the APIv3 key's holder made them),
    /// or with the WeChat Pay public key when the merchant configured both (WeChat may sign it so
    /// during its switch).
    func fetchCertificates(
        credentials: V3Credentials, apiV3Key: APIv3Key,
        alsoTrusting publicKey: WeChatPayKeys? = nil
    ) async -> Result<WeChatPayKeys, KeyProblem> {
        let request = V3Request(certificatesFor: credentials.mchID)
        let result = await exchange(request, credentials: credentials)
        guard case .success(let answer) = result.answer else {
            return .failure(KeyProblem(message: "GET /v3/certificates failed: \(result.failureText)", isConfiguration: false))
        }
        guard answer.status == 200 else {
            let configuration = answer.status == 401 || answer.status == 403 || answer.status == 400
            return .failure(
                KeyProblem(message: "GET /v3/certificates answered HTTP \(answer.status)", isConfiguration: configuration))
        }
        do {
            let keys = WeChatPayKeys(certificates: try CertificateList.decode(answer.body, key: apiV3Key))
            try AnswerVerifier.verify(answer, keys: publicKey.map { keys.adding($0) } ?? keys, nowSeconds: clock.now() / 1000)
            return .success(keys)
        } catch {
            let configuration = error.kind == .certificate
            return .failure(KeyProblem(message: "/v3/certificates: \(error.message)", isConfiguration: configuration))
        }
    }

    struct Exchanged {
        var answer: Result<V3Answer, Failure>
        var endpoint: String?
        var delivered: Bool

        var failureText: String {
            switch answer {
            case .success: ""
            case .failure(.notBuilt(let problem)): problem
            case .failure(.transport(let failure)): "\(failure.reason)"
            }
        }
    }

    enum Failure: Error {
        /// The request could not be signed: nothing was sent.
        case notBuilt(String)
        case transport(TransportFailure)
    }

    /// Signs `request` once and sends it through the transport.
    func exchange(_ request: V3Request, credentials: V3Credentials) async -> Exchanged {
        let signed: SignedV3Request
        do {
            signed = try SignedV3Request(request, credentials: credentials, timestamp: clock.now() / 1000, nonce: Self.nonce())
        } catch {
            return Exchanged(answer: .failure(.notBuilt(error.message)), endpoint: nil, delivered: false)
        }
        var headers = [("Accept", "application/json")]
        if !request.body.isEmpty { headers.append(("Content-Type", "application/json")) }
        headers += [("Authorization", signed.authorization), ("User-Agent", "closeorderd")]
        let outgoing = WeChatPayTransport.Request(
            method: request.method == "POST" ? .POST : .GET, path: request.canonicalURL,
            headers: headers, body: request.body.isEmpty ? nil : request.body,
            maximumAnswerSize: Self.maximumAnswerSize)
        let exchange = await transport.send(outgoing)
        switch exchange.result {
        case .success(let answer):
            let v3 = V3Answer(status: answer.status, body: answer.body) { answer.headers.first(name: $0) }
            return Exchanged(answer: .success(v3), endpoint: exchange.endpoint, delivered: true)
        case .failure(let failure):
            return Exchanged(answer: .failure(.transport(failure)), endpoint: exchange.endpoint, delivered: exchange.delivered)
        }
    }

    /// 32 random letters and digits.
    static func nonce() -> String {
        let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)
        var generator = SystemRandomNumberGenerator()
        return String(decoding: (0..<32).map { _ in alphabet[Int(generator.next() % UInt64(alphabet.count))] }, as: UTF8.self)
    }
}
