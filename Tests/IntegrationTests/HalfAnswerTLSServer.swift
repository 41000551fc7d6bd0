import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

/// An HTTPS server on loopback that reads a whole request (head and `Content-Length` body), answers
/// `200` with no length and only part of a body, then closes TCP without TLS's `close_notify`. The
/// client has sent everything and has the answer's head when the connection ends: AsyncHTTPClient
/// then reports `NIOSSLError.uncleanShutdown` (issue 21, item 1).
final class HalfAnswerTLSServer: Sendable {
    /// The answer: a head without `Content-Length` or chunking (the body runs until the connection
    /// closes) and half a WeChat Pay v2 body.
    static let answer = Array(
        "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\n\r\n<xml><return_code><![CDATA[SUCCESS]]></return_code><result_co".utf8)

    let certificate: SelfSignedCertificate
    private let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    private let channel = Mutex<(any Channel)?>(nil)
    private let received = ReceivedRequests()

    init(certificate: SelfSignedCertificate) {
        self.certificate = certificate
    }

    /// Request lines of every complete request read, e.g. `POST /pay/closeorder HTTP/1.1`.
    var requests: [String] { received.lines.withLock { $0 } }

    var baseURL: String {
        let port = channel.withLock { $0?.localAddress?.port } ?? 0
        return "https://127.0.0.1:\(port)"
    }

    func start() async throws {
        let context = try NIOSSLContext(
            configuration: .makeServerConfiguration(
                certificateChain: try NIOSSLCertificate.fromPEMFile(certificate.certificatePath).map { .certificate($0) },
                privateKey: .privateKey(try NIOSSLPrivateKey(file: certificate.keyPath, format: .pem))))
        let received = self.received
        let bound = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    // First in the pipeline, so its close goes to the socket without passing the TLS
                    // handler (which would send close_notify first).
                    let closer = RawCloser()
                    try channel.pipeline.syncOperations.addHandler(closer)
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
                    try channel.pipeline.syncOperations.addHandler(HalfAnswerHandler(closer: closer, received: received))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        channel.withLock { $0 = bound }
    }

    func shutdown() async throws {
        try await channel.withLock { $0 }?.close()
        try await group.shutdownGracefully()
    }
}

private final class ReceivedRequests: Sendable {
    let lines = Mutex<[String]>([])
}

/// Closes the TCP connection from below the TLS handler.
private final class RawCloser: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    private var context: ChannelHandlerContext?

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func closeWithoutCloseNotify() { context?.close(promise: nil) }
}

/// Reads one request, then writes the half answer and has the TCP connection closed under TLS.
private final class HalfAnswerHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let closer: RawCloser
    let received: ReceivedRequests
    var bytes: [UInt8] = []
    var answered = false

    init(closer: RawCloser, received: ReceivedRequests) {
        self.closer = closer
        self.received = received
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        bytes += buffer.readBytes(length: buffer.readableBytes) ?? []
        guard !answered, let requestLine = completeRequestLine() else { return }
        answered = true
        received.lines.withLock { $0.append(requestLine) }
        let closer = self.closer
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(bytes: HalfAnswerTLSServer.answer))).whenComplete { _ in
            closer.closeWithoutCloseNotify()
        }
    }

    /// Errors of the abrupt close on this side are expected.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {}

    /// The request line once the head and its `Content-Length` body have all arrived.
    private func completeRequestLine() -> String? {
        let separator = Array("\r\n\r\n".utf8)
        guard bytes.count >= separator.count,
            let end = (0...(bytes.count - separator.count)).first(where: { Array(bytes[$0..<$0 + separator.count]) == separator })
        else { return nil }
        let head = String(decoding: bytes[..<end], as: UTF8.self)
        let lines = head.components(separatedBy: "\r\n")
        let length =
            lines.dropFirst().compactMap { line -> Int? in
                let parts = line.split(separator: ":", maxSplits: 1)
                guard parts.count == 2, parts[0].lowercased() == "content-length" else { return nil }
                return Int(parts[1].trimmingCharacters(in: .whitespaces))
            }.first ?? 0
        return bytes.count >= end + separator.count + length ? lines[0] : nil
    }
}

/// A self-signed certificate for 127.0.0.1, made with the openssl command in a temporary folder.
struct SelfSignedCertificate {
    static var hasOpenSSL: Bool { FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl") }

    let folder: URL
    var certificatePath: String { folder.appendingPathComponent("cert.pem").path }
    var keyPath: String { folder.appendingPathComponent("key.pem").path }

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("closeorderd-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let openssl = Process()
        openssl.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        openssl.arguments = [
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", keyPath, "-out", certificatePath, "-days", "1",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
        ]
        openssl.standardOutput = FileHandle.nullDevice
        openssl.standardError = FileHandle.nullDevice
        let exited = DispatchSemaphore(value: 0)
        openssl.terminationHandler = { _ in exited.signal() }
        try openssl.run()
        // Bounded, so a stuck openssl fails the test instead of hanging the run.
        guard exited.wait(timeout: .now() + 120) == .success else {
            openssl.terminate()
            throw Failure(description: "openssl did not make a certificate within 120 s")
        }
        guard openssl.terminationStatus == 0 else { throw Failure(description: "openssl req failed") }
    }

    func remove() { try? FileManager.default.removeItem(at: folder) }

    struct Failure: Error, CustomStringConvertible { let description: String }
}
