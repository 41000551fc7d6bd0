#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOConcurrencyHelpers

/// Serves a `FakeWeChatPay` over HTTP/1.1 on loopback with SwiftNIO.
///
/// Delays (added latency, slow answers) are scheduled on the event loop, so no thread sleeps per
/// request and the fake keeps up as a benchmark's upstream. `setOutage(true)` closes the listening
/// socket, so clients see connection refused, the way a dead access point looks; `setOutage(false)`
/// listens again on the same port.
public final class FakeWeChatPayServer: Sendable {
    public let fake: FakeWeChatPay
    public let host: String
    let group: MultiThreadedEventLoopGroup
    let listener: NIOLockedValueBox<(channel: Channel?, port: Int)>
    let tls: NIOSSLContext?

    /// - Parameter tls: serve HTTPS with this context (e.g. a self-signed certificate), for testing trust.
    public init(fake: FakeWeChatPay, host: String = "127.0.0.1", threads: Int = 1, tls: NIOSSLContext? = nil) {
        self.fake = fake
        self.host = host
        self.tls = tls
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        self.listener = NIOLockedValueBox((nil, 0))
    }

    /// The bound port (0 before `start`).
    public var port: Int { listener.withLockedValue { $0.port } }

    /// `http://host:port`, for a client's base URL.
    public var baseURL: String { "\(tls == nil ? "http" : "https")://\(host):\(port)" }

    /// Starts listening; port 0 picks a free one. Returns the bound port.
    @discardableResult
    public func start(port: Int = 0) async throws -> Int {
        let channel = try await bootstrap().bind(host: host, port: port).get()
        let bound = channel.localAddress?.port ?? port
        listener.withLockedValue { $0 = (channel, bound) }
        return bound
    }

    /// Simulates an access point going down (true) or coming back (false) on the same port.
    public func setOutage(_ down: Bool) async throws {
        if down {
            let channel = listener.withLockedValue { state -> Channel? in
                defer { state.channel = nil }
                return state.channel
            }
            try await channel?.close()
        } else if listener.withLockedValue({ $0.channel == nil }) {
            try await start(port: port)
        }
    }

    public func shutdown() async throws {
        try await setOutage(true)
        try await group.shutdownGracefully()
    }

    private func bootstrap() -> ServerBootstrap {
        let fake = self.fake
        let tls = self.tls
        return ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 1024)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls { try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls)) }
                    // Only the request decoder from NIOHTTP1: the handler writes each answer as one
                    // pre-formatted buffer, which costs far less per call than the response encoder,
                    // header validator, pipelining and error handlers of the full server pipeline.
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(HTTPRequestDecoder()))
                    try channel.pipeline.syncOperations.addHandler(FakeHTTPHandler(fake: fake))
                }
            }
    }
}

/// Collects one request, asks the fake, and writes (or withholds) the answer.
///
/// Answers leave in request order even when an earlier one is delayed, as HTTP/1.1 requires of
/// pipelined requests. A request the decoder cannot parse gets 400 and the connection is closed.
final class FakeHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = ByteBuffer

    /// What goes back on the wire for one request.
    enum Reply {
        case bytes(ByteBuffer, close: Bool)
        case reset
    }

    let fake: FakeWeChatPay
    var head: HTTPRequestHead?
    var body: [UInt8] = []
    /// Replies not written yet, oldest first; nil while that request's answer is held back.
    var queue: [Reply?] = []
    /// The sequence number of `queue.first`, and of the next request.
    var queueStart = 0, nextSequence = 0
    var done = false

    init(fake: FakeWeChatPay) {
        self.fake = fake
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body.removeAll(keepingCapacity: true)
        case .body(let buffer):
            if body.count + buffer.readableBytes <= 1 << 20 {
                body.append(contentsOf: buffer.readableBytesView)
            }
        case .end:
            guard let head else { return }
            self.head = nil
            let uri = head.uri
            let path = uri.utf8.firstIndex(of: UInt8(ascii: "?")).map { String(uri[..<$0]) } ?? uri
            let answer = fake.handle(method: head.method.rawValue, path: path, body: body)
            let reply: Reply
            switch answer.action {
            case .reset:
                reply = .reset
            case .respond(let status, let bytes):
                let keepAlive = head.isKeepAlive
                reply = .bytes(Self.response(status: status, body: bytes, keepAlive: keepAlive, allocator: context.channel.allocator),
                               close: !keepAlive)
            }
            let sequence = nextSequence
            nextSequence += 1
            if answer.delay > .zero {
                queue.append(nil)
                let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
                context.eventLoop.scheduleTask(in: .init(answer.delay)) {
                    let (handler, context) = loopBound.value
                    handler.complete(sequence, with: reply, context: context)
                }
            } else if queue.isEmpty {
                // The usual case: nothing held back, so no queueing.
                queueStart = nextSequence
                send(reply, context: context)
            } else {
                queue.append(nil)
                complete(sequence, with: reply, context: context)
            }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if error is HTTPParserError, queue.isEmpty, !done {
            send(.bytes(Self.response(status: 400, body: [], keepAlive: false, allocator: context.channel.allocator), close: true),
                 context: context)
        } else {
            done = true
            context.close(promise: nil)
        }
    }

    /// Files a held-back reply and writes every reply that is now at the front of the line.
    func complete(_ sequence: Int, with reply: Reply, context: ChannelHandlerContext) {
        let slot = sequence - queueStart
        guard slot >= 0, slot < queue.count else { return }
        queue[slot] = reply
        while let first = queue.first, let ready = first {
            queue.removeFirst()
            queueStart += 1
            send(ready, context: context)
        }
    }

    func send(_ reply: Reply, context: ChannelHandlerContext) {
        guard !done, context.channel.isActive else { return }
        switch reply {
        case .reset:
            done = true
            // SO_LINGER 0 turns close() into a TCP RST, as a crashing proxy would send.
            let channel = context.channel
            if let provider = channel as? SocketOptionProvider {
                provider.setSoLinger(linger(l_onoff: 1, l_linger: 0)).whenComplete { _ in channel.close(promise: nil) }
            } else {
                channel.close(promise: nil)
            }
        case .bytes(let buffer, let close):
            if close {
                done = true
                let channel = context.channel
                context.writeAndFlush(wrapOutboundOut(buffer)).whenComplete { _ in channel.close(promise: nil) }
            } else {
                context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
            }
        }
    }

    /// The whole HTTP/1.1 answer, head and body, in one buffer (one write, one flush).
    static func response(status: Int, body: [UInt8], keepAlive: Bool, allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 128 + body.count)
        buffer.writeStaticString("HTTP/1.1 ")
        buffer.writeString(String(status))
        buffer.writeStaticString(" ")
        buffer.writeString(HTTPResponseStatus(statusCode: status).reasonPhrase)
        buffer.writeStaticString("\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ")
        buffer.writeString(String(body.count))
        buffer.writeStaticString(keepAlive ? "\r\nConnection: keep-alive\r\n\r\n" : "\r\nConnection: close\r\n\r\n")
        buffer.writeBytes(body)
        return buffer
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
