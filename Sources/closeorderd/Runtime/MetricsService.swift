import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus
import ServiceLifecycle

#if canImport(Glibc)
    import Glibc
#endif

/// Serves `GET /metrics` in Prometheus text format on a loopback address until shutdown.
/// A plain NIO handler: the daemon has no other HTTP server to share, and this needs one route.
struct MetricsService: Service {
    let registry: PrometheusCollectorRegistry
    let host: String
    let port: Int
    let logger: Logger

    func run() async throws {
        let registry = self.registry
        let channel: any Channel
        do {
            channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                        try channel.pipeline.syncOperations.addHandler(MetricsHandler(registry: registry))
                    }
                }
                .bind(host: host, port: port).get()
        } catch let error as IOError where error.errnoCode == EADDRINUSE {
            // NIO's text names a syscall; the operator needs the config key to change.
            let problem = MetricsPortInUse(host: host, port: port)
            logger.critical("metrics endpoint cannot listen", metadata: ["problem": "\(problem)", "port": "\(port)"])
            throw problem
        }
        // The port actually bound (the one configured, or the kernel's pick for 0), for whoever reads the log.
        let bound = channel.localAddress?.port ?? port
        logger.notice("metrics endpoint listening", metadata: ["address": "http://\(host):\(bound)/metrics", "port": "\(bound)"])
        try? await gracefulShutdown()
        try await channel.close()
    }
}

/// The metrics port is taken: said in the config's words.
struct MetricsPortInUse: Error, CustomStringConvertible {
    let host: String
    let port: Int
    var description: String { "metrics.port \(port) is already in use on \(host)" }
}

final class MetricsHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let registry: PrometheusCollectorRegistry
    var uri = ""

    init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): uri = head.uri
        case .body: break
        case .end:
            let found = uri == "/metrics"
            let body = found ? registry.emitToBuffer() : Array("try /metrics\n".utf8)
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: found ? "text/plain; version=0.0.4" : "text/plain")
            headers.add(name: "Content-Length", value: String(body.count))
            context.write(
                wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: found ? .ok : .notFound, headers: headers))),
                promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
    }
}
