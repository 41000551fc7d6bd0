import AsyncHTTPClient
import GatewayVocabulary
import NIOCore
import NIOPosix
import NIOSSL
import WeChatPayV2

/// What a transport error means for an order, judged by what is known to have left this machine
/// (`RequestProgress`, from the request's own delegate), never by the error's type name: may
/// WeChat Pay have seen the request, and is the endpoint to blame?
///
/// | progress when it failed | error                                                        | may have been sent | endpoint  |
/// |-------------------------|--------------------------------------------------------------|--------------------|-----------|
/// | nothing written         | DNS, connect refused/unreachable/timeout, TLS handshake (`NIOSSL` errors, handshake timeout) | no | down |
/// | nothing written         | no pooled connection free within the connect timeout          | no                 | unknown (this machine's congestion) |
/// | nothing written         | deadline, cancelled, anything else                             | no                 | unknown   |
/// | request written         | deadline, read or write timeout, before any answer            | yes                | down      |
/// | request written         | anything else (reset, closed, TLS unclean shutdown, cancelled) | yes                | up        |
/// | answer begun            | anything (a cut or unparseable answer)                         | yes                | up        |
///
/// "Written" is AsyncHTTPClient's `didSendRequestHead`, called as soon as the head is handed to
/// a connection (1.37.0: `HTTP1ClientChannelHandler.sendRequestHead`); before it no byte of the
/// request can be on the wire, so "nothing written" is certain and everything after is in doubt.
struct TransportFailure: Error, Sendable {
    enum Endpoint: Sendable, Hashable {
        /// The endpoint could not be reached or did not answer in time: failover's business.
        case down
        /// It took the request: whatever failed, it is there.
        case up
        /// Nothing was learnt about it (a local failure).
        case unknown
    }

    let reason: RetryReason
    let endpoint: Endpoint
    /// False only when no byte of the request was handed to a connection.
    let mayHaveBeenSent: Bool

    var unreachable: Bool { endpoint == .down }

    init(_ error: any Error, progress: RequestProgress) {
        switch progress {
        case .notWritten:
            if Self.isConnectFailure(error) {
                self.init(.connection("cannot connect: \(Self.describe(error))"), endpoint: .down, sent: false)
            } else if let error = error as? HTTPClientError, error == .getConnectionFromPoolTimeout {
                self.init(
                    .connection(
                        "no free connection in the local connection pool within the connect timeout (this machine's concurrency, not WeChat Pay)"
                    ),
                    endpoint: .unknown, sent: false)
            } else if let error = error as? HTTPClientError, error == .deadlineExceeded {
                self.init(.timeout(afterSending: false), endpoint: .unknown, sent: false)
            } else if Self.isCancellation(error) {
                self.init(.connection("cancelled"), endpoint: .unknown, sent: false)
            } else {
                self.init(.connection(Self.describe(error)), endpoint: .unknown, sent: false)
            }
        case .written:
            if let error = error as? HTTPClientError, [.deadlineExceeded, .readTimeout, .writeTimeout].contains(error) {
                self.init(.timeout(afterSending: true), endpoint: .down, sent: true)
            } else {
                self.init(.connection(Self.isCancellation(error) ? "cancelled" : Self.describe(error)), endpoint: .up, sent: true)
            }
        case .answered:
            if let error = error as? HTTPClientError, [.deadlineExceeded, .readTimeout, .writeTimeout].contains(error) {
                self.init(.timeout(afterSending: true), endpoint: .up, sent: true)
            } else {
                self.init(
                    .connection("the answer was cut off: \(Self.isCancellation(error) ? "cancelled" : Self.describe(error))"),
                    endpoint: .up, sent: true)
            }
        }
    }

    private init(_ reason: RetryReason, endpoint: Endpoint, sent: Bool) {
        self.reason = reason
        self.endpoint = endpoint
        self.mayHaveBeenSent = sent
    }

    /// Errors of making a connection: name resolution, TCP connect, the TLS handshake. Only
    /// consulted when nothing was written, so a TLS error on a connection that carried the
    /// request never lands here.
    static func isConnectFailure(_ error: any Error) -> Bool {
        switch error {
        case let error as HTTPClientError:
            return error == .connectTimeout || error == .tlsHandshakeTimeout
        case is NIOConnectionError, is NIOSSLError, is NIOSSLExtraError, is BoringSSLError:
            return true
        case let error as ChannelError:
            if case .connectTimeout = error { return true }
            return false
        case let error as IOError:
            return [ECONNREFUSED, ENETUNREACH, EHOSTUNREACH, ETIMEDOUT].contains(error.errnoCode)
        default:
            return false
        }
    }

    static func isCancellation(_ error: any Error) -> Bool {
        error is CancellationError || (error as? HTTPClientError) == .cancelled
    }

    static func describe(_ error: any Error) -> String {
        if error is NIOSSLError || error is NIOSSLExtraError || error is BoringSSLError { return "TLS: \(error)" }
        return "\(error)"
    }
}
