import AsyncHTTPClient
import NIOCore
import NIOPosix
import WeChatPayV2

/// What a transport error means for an order: may WeChat have seen the request, and should the
/// gateway fail over?
struct TransportFailure: Error, Sendable {
    let reason: RetryReason
    /// DNS, connect, TLS errors and timeouts: the access point looks down.
    let unreachable: Bool
    /// False only when the request cannot have left this machine.
    let mayHaveBeenSent: Bool

    init(_ error: any Error) {
        if let error = error as? HTTPClientError {
            switch error {
            case .connectTimeout, .tlsHandshakeTimeout, .getConnectionFromPoolTimeout:
                self.init(.connection("\(error)"), unreachable: true, sent: false)
            case .deadlineExceeded, .readTimeout, .writeTimeout:
                self.init(.timeout(afterSending: true), unreachable: true, sent: true)
            case .cancelled:
                self.init(.connection("cancelled"), unreachable: false, sent: true)
            default:
                self.init(.connection("\(error)"), unreachable: false, sent: true)
            }
        } else if error is NIOConnectionError || error is ChannelError {
            self.init(.connection("cannot connect: \(error)"), unreachable: true, sent: false)
        } else if let error = error as? IOError, [ECONNREFUSED, ENETUNREACH, EHOSTUNREACH].contains(error.errnoCode) {
            self.init(.connection("cannot connect: \(error)"), unreachable: true, sent: false)
        } else if String(reflecting: type(of: error)).contains("SSL") {
            // NIOSSL's handshake and certificate errors: nothing was sent in the clear.
            self.init(.connection("TLS: \(error)"), unreachable: true, sent: false)
        } else if error is CancellationError {
            self.init(.connection("cancelled"), unreachable: false, sent: true)
        } else {
            self.init(.connection("\(error)"), unreachable: false, sent: true)
        }
    }

    private init(_ reason: RetryReason, unreachable: Bool, sent: Bool) {
        self.reason = reason
        self.unreachable = unreachable
        self.mayHaveBeenSent = sent
    }
}

#if canImport(Glibc)
import Glibc
#endif
