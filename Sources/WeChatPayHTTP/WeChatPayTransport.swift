import AsyncHTTPClient
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOSSL
import OrderClosing

/// The HTTP transport both APIs share: the client, the timeouts, and the failover between the
/// primary and backup domains (`FailoverState`). It sends one prepared request and hands back the
/// raw answer or a `TransportFailure`; signing, decoding and classifying stay in each API's gateway.
///
/// One call sends at most one request that may have reached WeChat Pay: the next endpoint is tried
/// only after a failure that kept the request on this machine. The request is signed once per call
/// and the same bytes go to the backup: neither signature covers the host (v2 signs the body's
/// fields, v3 the method, path, timestamp, nonce and body), and since the first try never left this
/// machine, WeChat Pay sees that nonce once.
///
/// **One failover state for v2 and v3.** The daemon gives both gateways the same transport, so v2
/// and v3 merchants share one state per primary/backup pair:
///
/// | question | shared (chosen) | one state per API |
/// |---|---|---|
/// | what failover reacts to | the host being unreachable (DNS, connect, TLS, timeout), never an HTTP answer | same |
/// | is that the same for both APIs? | yes: both are `api.mch.weixin.qq.com` / `api2…` | – |
/// | an outage seen by a v2 call | v3 calls go to the backup at once | each v3 call first waits out a connect timeout |
/// | probes of a down primary | one call per probe interval | one per API per interval |
/// | log line, heartbeat `endpoint`, metric | one, true for every merchant | the heartbeat shows v2's only |
///
/// An outage of one API alone on a reachable host answers HTTP errors, which never move failover
/// in either design, so sharing loses nothing. Tests give each gateway its own transport through
/// the gateways' `init(client:settings:clock:logger:)`.
public final class WeChatPayTransport: Sendable {
    /// One request as it goes on the wire; the base URL is the transport's to choose.
    public struct Request: Sendable {
        public var method: HTTPMethod
        /// Path and query, appended to the endpoint's base URL.
        public var path: String
        public var headers: [(String, String)]
        /// nil sends no body (a GET).
        public var body: [UInt8]?
        /// Longer answers are refused (they are not WeChat Pay's).
        public var maximumAnswerSize: Int

        public init(method: HTTPMethod, path: String, headers: [(String, String)], body: [UInt8]?, maximumAnswerSize: Int) {
            self.method = method
            self.path = path
            self.headers = headers
            self.body = body
            self.maximumAnswerSize = maximumAnswerSize
        }
    }

    /// An HTTP answer of any status, complete.
    public struct Answer: Sendable {
        public let status: Int
        public let headers: HTTPHeaders
        public let body: [UInt8]
    }

    /// What one call came to: the answer or the last transport failure, the endpoint last tried,
    /// and whether WeChat Pay may have received the request.
    struct Exchange: Sendable {
        var result: Result<Answer, TransportFailure>
        var endpoint: String?
        var delivered: Bool
    }

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
        self.failover = NIOLockedValueBox(
            FailoverState(hasBackup: settings.backupURL != nil, probeIntervalMs: settings.probeIntervalMs))
    }

    /// An HTTP client with the settings' timeouts and trust: the system store, or `caFile` alone,
    /// and TLS 1.2 or newer (WeChat Pay requires 1.2; NIOSSL's default floor is 1.0).
    /// Connection failures are reported at once (no pool-level retry) so failover is quick.
    ///
    /// **One event loop**, so a request's delegate runs on the loop of the connection it is sent
    /// on. On two loops AsyncHTTPClient 1.37.0 can hand us a complete answer on the delegate's loop
    /// while the connection's release to the pool is still queued for the other; a `shutdown()` (or
    /// the peer's close) in that gap makes the pool trap: "A connection that we don't know was
    /// released?" (SIGILL). On one loop the answer and the release run in the same turn.
    /// Connections stay pooled and reused.
    public static func makeClient(settings: GatewaySettings) throws -> HTTPClient {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        if let caFile = settings.caFile {
            tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caFile))
        }
        var configuration = HTTPClient.Configuration(
            tlsConfiguration: tls, redirectConfiguration: .disallow,
            timeout: .init(connect: .milliseconds(settings.connectTimeoutMs)))
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = max(settings.maxConnections, 1)
        configuration.decompression = .disabled
        // No tracing backend is bootstrapped; without this the client builds a no-op span with
        // its attributes for every request (about 2.5 % of the daemon's CPU at full speed).
        configuration.tracing.tracer = nil
        return HTTPClient(eventLoopGroup: clientEventLoop, configuration: configuration)
    }

    /// The event loop every client made by `makeClient` runs on (see there why it is one).
    static let clientEventLoop: any EventLoop = HTTPClient.defaultEventLoopGroup.next()

    /// The endpoint in use now, for status and metrics.
    public var currentEndpoint: String {
        failover.withLockedValue { $0.usingBackup } ? (settings.backupURL ?? settings.primaryURL) : settings.primaryURL
    }

    /// The endpoint not in use (nil without failover).
    public var otherEndpoint: String? {
        guard let backup = settings.backupURL else { return nil }
        return currentEndpoint == backup ? settings.primaryURL : backup
    }

    /// Sends `request` through the failover plan; moves on to the next endpoint only when the
    /// endpoint is down and no byte of the request was written (`TransportFailure`).
    func send(_ request: Request) async -> Exchange {
        let plan = failover.withLockedValue { $0.plan(now: clock.now()) }
        var delivered = false
        var last: (failure: TransportFailure, url: String)?
        for endpoint in plan {
            let baseURL = endpoint == .primary ? settings.primaryURL : (settings.backupURL ?? settings.primaryURL)
            let failure: TransportFailure
            switch await execute(request, at: baseURL) {
            case .success(let answer):
                noteReachability(endpoint, reachable: true)
                return Exchange(result: .success(answer), endpoint: baseURL, delivered: true)
            case .failure(let failed):
                failure = failed
            }
            last = (failure, baseURL)
            delivered = delivered || failure.mayHaveBeenSent
            switch failure.endpoint {
            case .down: noteReachability(endpoint, reachable: false, cause: "\(failure.reason)")
            case .up: noteReachability(endpoint, reachable: true)
            case .unknown: break  // a local failure says nothing about the endpoint
            }
            // A timeout after sending marks the endpoint down for later calls, but this call
            // ends here: WeChat may have the request, and a second one would be a second
            // close that the audit table does not show.
            guard FailoverState.triesNextEndpoint(unreachable: failure.unreachable, mayHaveBeenSent: failure.mayHaveBeenSent),
                !Task.isCancelled
            else { break }
        }
        // The plan is never empty, so `last` is set.
        let failure = last?.failure ?? TransportFailure(CancellationError(), progress: .notWritten)
        return Exchange(result: .failure(failure), endpoint: last?.url, delivered: delivered)
    }

    /// One request. The answer is gathered on the event loop and handed over once, complete: the
    /// streaming `HTTPClientRequest` API resumes the calling task per part, which cost about a
    /// third more CPU per close at full speed (BENCHMARKS.md). Cancelling the task cancels the call.
    /// A failure is judged by how far the request got (`ProgressRecorder`).
    private func execute(_ request: Request, at baseURL: String) async -> Result<Answer, TransportFailure> {
        let http: HTTPClient.Request
        do {
            var built = try HTTPClient.Request(
                url: baseURL + request.path, method: request.method, body: request.body.map { .bytes($0) })
            for (name, value) in request.headers { built.headers.add(name: name, value: value) }
            http = built
        } catch {
            return .failure(TransportFailure(error, progress: .notWritten))
        }
        let recorder = ProgressRecorder(request: http, maxBodySize: request.maximumAnswerSize)
        let task = client.execute(request: http, delegate: recorder, deadline: .now() + .milliseconds(settings.totalTimeoutMs))
        do {
            let response = try await withTaskCancellationHandler {
                try await task.futureResult.get()
            } onCancel: {
                task.cancel()
            }
            var body = response.body ?? ByteBuffer()
            return .success(
                Answer(
                    status: Int(response.status.code), headers: response.headers,
                    body: body.readBytes(length: body.readableBytes) ?? []))
        } catch {
            return .failure(TransportFailure(error, progress: recorder.progress))
        }
    }

    /// A failover is a warning, not an error: calls go on through the backup at once. If the backup
    /// fails too, the closing loop's outage line (error) says so.
    private func noteReachability(_ endpoint: FailoverState.Endpoint, reachable: Bool, cause: String? = nil) {
        let change = failover.withLockedValue { $0.report(endpoint, reachable: reachable, now: clock.now()) }
        switch change {
        case .failedOver:
            logger.warning(
                "failover: primary WeChat Pay endpoint \(settings.primaryURL) unreachable (\(cause ?? "no cause recorded")); using the backup \(settings.backupURL ?? "")",
                metadata: [
                    "endpoint": "\(settings.backupURL ?? "")", "primary": "\(settings.primaryURL)", "cause": "\(cause ?? "")",
                ])
        case .returnedToPrimary:
            logger.notice(
                "failover: primary WeChat Pay endpoint \(settings.primaryURL) answers again, returning to it",
                metadata: ["endpoint": "\(settings.primaryURL)"])
        case nil:
            break
        }
    }
}
