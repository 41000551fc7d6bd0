import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

#if canImport(Glibc)
    import Glibc
#endif

/// Serves a `FakeWeChatPay` over HTTP/1.1 on loopback with SwiftNIO.
///
/// Delays (added latency, slow answers, answers held by `holdAnswers()`) are scheduled on the
/// event loop, so no thread sleeps per request and the fake keeps up as a benchmark's upstream. `setOutage(true)` closes the listening
/// socket and holds its port (`PortHold`), so clients see connection refused, the way a dead access
/// point looks; `setOutage(false)` listens again on the same port.
public final class FakeWeChatPayServer: Sendable {
    public let fake: FakeWeChatPay
    public let host: String
    let group: MultiThreadedEventLoopGroup
    let listener: NIOLockedValueBox<(channel: (any Channel)?, port: Int)>
    /// The port held during an outage, so no other server is given it meanwhile.
    let hold = NIOLockedValueBox<PortHold?>(nil)
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
    ///
    /// The port is never free in between: the listener and the hold (`PortHold`) both bind with
    /// SO_REUSEPORT, so the hold takes the port before the listener closes, and the listener takes
    /// it back before the hold lets go. Another test's server (bound to port 0) cannot be given it.
    public func setOutage(_ down: Bool) async throws {
        if down {
            guard let channel = listener.withLockedValue({ $0.channel }) else { return }
            let held = host == "127.0.0.1" ? PortHold(host: host, port: port) : nil
            hold.withLockedValue { $0 = held }
            listener.withLockedValue { $0.channel = nil }
            try await channel.close()
        } else if listener.withLockedValue({ $0.channel == nil }) {
            try await start(port: port)
            releaseHold()
        }
    }

    private func releaseHold() {
        hold.withLockedValue { held in
            held?.release()
            held = nil
        }
    }

    public func shutdown() async throws {
        try await setOutage(true)
        releaseHold()
        try await group.shutdownGracefully()
    }

    private func bootstrap() -> ServerBootstrap {
        let fake = self.fake
        let tls = self.tls
        return ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            // Shared with the outage's `PortHold`, so the port changes hands without being free.
            .serverChannelOption(
                ChannelOptions.Types.SocketOption(level: .socket, name: NIOBSDSocket.Option(rawValue: SO_REUSEPORT)), value: 1
            )
            .serverChannelOption(.backlog, value: 1024)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls { try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls)) }
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(FakeHTTPHandler(fake: fake))
                }
            }
    }
}

/// Collects one request, asks the fake, and writes (or withholds) the answer.
final class FakeHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let fake: FakeWeChatPay
    var head: HTTPRequestHead?
    var body: [UInt8] = []

    init(fake: FakeWeChatPay) {
        self.fake = fake
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body.removeAll(keepingCapacity: true)
        case .body(var buffer):
            if body.count + buffer.readableBytes <= 1 << 20, let bytes = buffer.readBytes(length: buffer.readableBytes) {
                body.append(contentsOf: bytes)
            }
        case .end:
            guard let head else { return }
            self.head = nil
            let path = String(head.uri.split(separator: "?", maxSplits: 1).first ?? "")
            let answer =
                path.hasPrefix("/v3/")
                ? fake.handleV3(
                    method: head.method.rawValue, uri: head.uri, authorization: head.headers.first(name: "Authorization"),
                    body: body)
                : fake.handle(method: head.method.rawValue, path: path, body: body)
            let keepAlive = head.isKeepAlive
            if answer.delay == .zero, answer.gate == nil {
                perform(answer.action, keepAlive: keepAlive, context: context)
                return
            }
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            let eventLoop = context.eventLoop
            let send: @Sendable () -> Void = {
                eventLoop.execute {
                    let (handler, context) = loopBound.value
                    handler.perform(answer.action, keepAlive: keepAlive, context: context)
                }
            }
            let afterDelay: @Sendable () -> Void = {
                if let gate = answer.gate { gate.whenOpen(send) } else { send() }
            }
            if answer.delay > .zero {
                eventLoop.scheduleTask(in: .init(answer.delay)) { afterDelay() }
            } else {
                afterDelay()
            }
        }
    }

    func perform(_ action: FakeWeChatPay.Answer.Action, keepAlive: Bool, context: ChannelHandlerContext) {
        guard context.channel.isActive else { return }
        switch action {
        case .reset:
            // SO_LINGER 0 turns close() into a TCP RST, as a crashing proxy would send.
            let channel = context.channel
            if let provider = channel as? any SocketOptionProvider {
                provider.setSoLinger(linger(l_onoff: 1, l_linger: 0)).whenComplete { _ in channel.close(promise: nil) }
            } else {
                channel.close(promise: nil)
            }
        case .respondV3(let status, let extra, let bytes):
            var headers = HTTPHeaders(extra.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
            if !bytes.isEmpty { headers.add(name: "Content-Type", value: "application/json") }
            respond(status: status, headers: headers, bytes: bytes, keepAlive: keepAlive, context: context)
        case .respond(let status, let bytes):
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: "text/plain; charset=utf-8")
            respond(status: status, headers: headers, bytes: bytes, keepAlive: keepAlive, context: context)
        }
    }

    func respond(status: Int, headers: HTTPHeaders, bytes: [UInt8], keepAlive: Bool, context: ChannelHandlerContext) {
        var headers = headers
        headers.add(name: "Content-Length", value: String(bytes.count))
        headers.add(name: "Connection", value: keepAlive ? "keep-alive" : "close")
        let head = HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: status), headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: bytes)))), promise: nil)
        let flushed = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            let channel = context.channel
            flushed.whenComplete { _ in channel.close(promise: nil) }
        }
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
