import AsyncHTTPClient
import GatewayVocabulary
import NIOCore
import NIOSSL
import Testing
import WeChatPayV2

@testable import WeChatPayHTTP

#if canImport(Glibc)
    import Glibc
#endif

/// Issue 21, items 1 and 7: `TransportFailure`'s table. A failure is judged by how far the request
/// got, so the same error type means different things before and after the request was written.
@Suite struct TransportFailureTests {
    struct Row: Sendable, CustomTestStringConvertible {
        let error: any Error & Sendable
        let progress: RequestProgress
        let sent: Bool
        let endpoint: TransportFailure.Endpoint
        var testDescription: String { "\(error) at \(progress)" }
    }

    static let rows: [Row] = [
        // Making the connection failed: nothing written, the endpoint is down, fail over.
        Row(error: HTTPClientError.connectTimeout, progress: .notWritten, sent: false, endpoint: .down),
        Row(error: HTTPClientError.tlsHandshakeTimeout, progress: .notWritten, sent: false, endpoint: .down),
        Row(error: ChannelError.connectTimeout(.seconds(5)), progress: .notWritten, sent: false, endpoint: .down),
        Row(error: IOError(errnoCode: ECONNREFUSED, reason: "connect"), progress: .notWritten, sent: false, endpoint: .down),
        Row(error: NIOSSLError.handshakeFailed(.sslError([])), progress: .notWritten, sent: false, endpoint: .down),
        Row(error: NIOSSLExtraError.failedToValidateHostname, progress: .notWritten, sent: false, endpoint: .down),
        // This machine's own limits and cancellations: nothing written, nothing learnt about the endpoint.
        Row(error: HTTPClientError.getConnectionFromPoolTimeout, progress: .notWritten, sent: false, endpoint: .unknown),
        Row(error: HTTPClientError.deadlineExceeded, progress: .notWritten, sent: false, endpoint: .unknown),
        Row(error: HTTPClientError.cancelled, progress: .notWritten, sent: false, endpoint: .unknown),
        Row(error: CancellationError(), progress: .notWritten, sent: false, endpoint: .unknown),
        Row(error: HTTPClientError.remoteConnectionClosed, progress: .notWritten, sent: false, endpoint: .unknown),
        // Once written, whatever the type: may have been sent, never sent again within the call.
        Row(error: NIOSSLError.uncleanShutdown, progress: .written, sent: true, endpoint: .up),
        Row(error: NIOSSLError.uncleanShutdown, progress: .answered, sent: true, endpoint: .up),
        Row(error: NIOSSLError.handshakeFailed(.sslError([])), progress: .written, sent: true, endpoint: .up),
        Row(error: ChannelError.ioOnClosedChannel, progress: .written, sent: true, endpoint: .up),
        Row(error: IOError(errnoCode: ECONNRESET, reason: "read"), progress: .written, sent: true, endpoint: .up),
        Row(error: HTTPClientError.remoteConnectionClosed, progress: .written, sent: true, endpoint: .up),
        Row(error: HTTPClientError.cancelled, progress: .written, sent: true, endpoint: .up),
        // A timeout after writing: the endpoint is down for later calls, but this call ends.
        Row(error: HTTPClientError.deadlineExceeded, progress: .written, sent: true, endpoint: .down),
        Row(error: HTTPClientError.readTimeout, progress: .written, sent: true, endpoint: .down),
        // An answer that began and stalled: the endpoint is there.
        Row(error: HTTPClientError.deadlineExceeded, progress: .answered, sent: true, endpoint: .up),
    ]

    @Test(arguments: rows) func judgedByProgress(_ row: Row) {
        let failure = TransportFailure(row.error, progress: row.progress)
        #expect(failure.mayHaveBeenSent == row.sent)
        #expect(failure.endpoint == row.endpoint)
        #expect(
            FailoverState.triesNextEndpoint(unreachable: failure.unreachable, mayHaveBeenSent: failure.mayHaveBeenSent)
                == (row.endpoint == .down && !row.sent))
    }

    @Test func timeoutsSayWhetherTheRequestWasSent() {
        #expect(TransportFailure(HTTPClientError.deadlineExceeded, progress: .written).reason == .timeout(afterSending: true))
        #expect(TransportFailure(HTTPClientError.deadlineExceeded, progress: .notWritten).reason == .timeout(afterSending: false))
    }

    /// The pool's own timeout names this machine as the cause, not WeChat Pay.
    @Test func aFullPoolSaysSo() {
        let failure = TransportFailure(HTTPClientError.getConnectionFromPoolTimeout, progress: .notWritten)
        guard case .connection(let text) = failure.reason else {
            Issue.record("got \(failure.reason)")
            return
        }
        #expect(text.contains("local connection pool"))
    }
}
