import AsyncHTTPClient
import NIOCore
import NIOHTTP1
import Synchronization

/// How far one request got before it failed: the evidence `TransportFailure` judges by.
enum RequestProgress: UInt8, Sendable, Comparable {
    /// No byte of the request was handed to a connection: queued, connecting, in the TLS handshake.
    case notWritten
    /// The request head was handed to a connection (`didSendRequestHead`); the body may follow.
    case written
    /// An answer's head arrived.
    case answered

    static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// The request's delegate: gathers the answer as `ResponseAccumulator` does (bounded in size) and
/// notes how far the request got, so a failure is judged by what left this machine.
final class ProgressRecorder: HTTPClientResponseDelegate {
    typealias Response = HTTPClient.Response

    private let accumulator: ResponseAccumulator
    private let reached = Atomic<UInt8>(RequestProgress.notWritten.rawValue)

    init(request: HTTPClient.Request, maxBodySize: Int) {
        accumulator = ResponseAccumulator(request: request, maxBodySize: maxBodySize)
    }

    /// How far the request got; read once its task has completed.
    var progress: RequestProgress { RequestProgress(rawValue: reached.load(ordering: .acquiring)) ?? .notWritten }

    private func note(_ progress: RequestProgress) {
        reached.max(progress.rawValue, ordering: .releasing)
    }

    func didSendRequestHead(task: HTTPClient.Task<Response>, _ head: HTTPRequestHead) {
        note(.written)
    }

    func didVisitURL(task: HTTPClient.Task<Response>, _ request: HTTPClient.Request, _ head: HTTPResponseHead) {
        accumulator.didVisitURL(task: task, request, head)
    }

    func didReceiveHead(task: HTTPClient.Task<Response>, _ head: HTTPResponseHead) -> EventLoopFuture<Void> {
        note(.answered)
        return accumulator.didReceiveHead(task: task, head)
    }

    func didReceiveBodyPart(task: HTTPClient.Task<Response>, _ buffer: ByteBuffer) -> EventLoopFuture<Void> {
        accumulator.didReceiveBodyPart(task: task, buffer)
    }

    func didReceiveError(task: HTTPClient.Task<Response>, _ error: any Error) {
        accumulator.didReceiveError(task: task, error)
    }

    func didFinishRequest(task: HTTPClient.Task<Response>) throws -> Response {
        try accumulator.didFinishRequest(task: task)
    }
}
