import AsyncHTTPClient
import Logging
import NIOCore
import NIOSSL
import OrderClosing
import NIOConcurrencyHelpers
import WeChatPayV2

/// The `WeChatPayGateway` on AsyncHTTPClient: signs each try afresh, POSTs XML, classifies the
/// answer, and fails over to the backup domain when the primary is unreachable (`FailoverState`).
/// One call POSTs at most once where WeChat may have received it: it moves to the backup only
/// after a failure that kept the request on this machine.
public final class WeChatPayHTTPGateway: WeChatPayGateway {
    let client: HTTPClient
    let settings: GatewaySettings
    let clock: any OrderClock
    let logger: Logger
    let failover: NIOLockedValueBox<FailoverState>

    /// - Parameter client: made with `makeClient(settings:)`; the caller shuts it down.
    public init(client: HTTPClient, settings: GatewaySettings, clock: any OrderClock, logger: Logger) {
        self.client = client
        self.settings = settings
        self.clock = clock
        self.logger = logger
        self.failover = NIOLockedValueBox(FailoverState(hasBackup: settings.backupURL != nil, probeIntervalMs: settings.probeIntervalMs))
    }

    /// An HTTP client with the settings' timeouts and trust: the system store, or `caFile` alone,
    /// and TLS 1.2 or newer (WeChat Pay requires 1.2; NIOSSL's default floor is 1.0).
    /// Connection failures are reported at once (no pool-level retry) so failover is quick.
    public static func makeClient(settings: GatewaySettings) throws -> HTTPClient {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        if let caFile = settings.caFile {
            tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caFile))
        }
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls, redirectConfiguration: .disallow,
                                                     timeout: .init(connect: .milliseconds(settings.connectTimeoutMs)))
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = max(settings.maxConnections, 1)
        configuration.decompression = .disabled
        // No tracing backend is bootstrapped; without this the client builds a no-op span with
        // its attributes for every request (about 2.5 % of the daemon's CPU at full speed).
        configuration.tracing.tracer = nil
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// The endpoint in use now, for status and metrics.
    public var currentEndpoint: String {
        failover.withLockedValue { $0.usingBackup } ? (settings.backupURL ?? settings.primaryURL) : settings.primaryURL
    }

    /// The endpoint not in use (nil without failover).
    public var otherEndpoint: String? {
        guard let backup = settings.backupURL else { return nil }
        return currentEndpoint == backup ? settings.primaryURL : backup
    }

    public func closeOrder(_ order: OrderReference, credentials: MerchantCredentials) async -> GatewayResponse<CloseOutcome> {
        await call(.closeOrder, order: order, credentials: credentials,
                   classify: ResponseClassifier.classifyClose, failure: CloseOutcome.retryable)
    }

    public func queryOrder(_ order: OrderReference, credentials: MerchantCredentials) async -> GatewayResponse<QueryOutcome> {
        await call(.orderQuery, order: order, credentials: credentials,
                   classify: ResponseClassifier.classifyQuery, failure: QueryOutcome.retryable)
    }

    private func call<Outcome: Sendable>(
        _ operation: Operation, order: OrderReference, credentials: MerchantCredentials,
        classify: (Int, [UInt8], OrderReference, MerchantCredentials) -> (Outcome, ResponseSummary),
        failure: (RetryReason) -> Outcome
    ) async -> GatewayResponse<Outcome> {
        let plan = failover.withLockedValue { $0.plan(now: clock.now()) }
        var delivered = false
        var lastFailure = TransportFailure(HTTPClientError.cancelled)
        var lastURL: String?
        for endpoint in plan {
            let baseURL = endpoint == .primary ? settings.primaryURL : (settings.backupURL ?? settings.primaryURL)
            lastURL = baseURL
            do {
                let request = try SignedRequest(operation, order: order, credentials: credentials, nonce: Nonce.make())
                let (status, body) = try await post(request, to: baseURL + operation.path)
                noteReachability(endpoint, reachable: true)
                let (outcome, summary) = classify(status, body, order, credentials)
                return GatewayResponse(outcome: outcome, summary: summary, endpoint: baseURL)
            } catch let error as ProtocolError {
                return GatewayResponse(outcome: failure(.unparseable("request not built: \(error.message)")),
                                       summary: ResponseSummary(), endpoint: nil, delivered: false)
            } catch {
                lastFailure = TransportFailure(error)
                delivered = delivered || lastFailure.mayHaveBeenSent
                noteReachability(endpoint, reachable: !lastFailure.unreachable)
                // A timeout after sending marks the endpoint down for later calls, but this call
                // ends here: WeChat may have the request, and a second POST would be a second
                // close that the audit table does not show.
                guard FailoverState.triesNextEndpoint(unreachable: lastFailure.unreachable,
                                                      mayHaveBeenSent: lastFailure.mayHaveBeenSent),
                      !Task.isCancelled else { break }
            }
        }
        return GatewayResponse(outcome: failure(lastFailure.reason), summary: ResponseSummary(), endpoint: lastURL, delivered: delivered)
    }

    /// One POST. The answer is gathered on the event loop and handed over once, complete: the
    /// streaming `HTTPClientRequest` API resumes the calling task per part, which cost about a
    /// third more CPU per close at full speed (BENCHMARKS.md). Cancelling the task cancels the call.
    private func post(_ request: SignedRequest, to url: String) async throws -> (Int, [UInt8]) {
        var http = try HTTPClient.Request(url: url, method: .POST, body: .bytes(request.body))
        http.headers.add(name: "Content-Type", value: "text/xml; charset=utf-8")
        http.headers.add(name: "User-Agent", value: "closeorderd")
        let task = client.execute(request: http, delegate: ResponseAccumulator(request: http, maxBodySize: StrictXMLDecoder.maximumSize + 1),
                                  deadline: .now() + .milliseconds(settings.totalTimeoutMs))
        let response = try await withTaskCancellationHandler {
            try await task.futureResult.get()
        } onCancel: {
            task.cancel()
        }
        var body = response.body ?? ByteBuffer()
        return (Int(response.status.code), body.readBytes(length: body.readableBytes) ?? [])
    }

    private func noteReachability(_ endpoint: FailoverState.Endpoint, reachable: Bool) {
        let change = failover.withLockedValue { $0.report(endpoint, reachable: reachable, now: clock.now()) }
        switch change {
        case .failedOver:
            logger.error("failover: primary WeChat Pay endpoint unreachable, using the backup",
                         metadata: ["endpoint": "\(settings.backupURL ?? "")", "primary": "\(settings.primaryURL)"])
        case .returnedToPrimary:
            logger.notice("failover: primary WeChat Pay endpoint answers again, returning to it",
                          metadata: ["endpoint": "\(settings.primaryURL)"])
        case nil:
            break
        }
    }
}
