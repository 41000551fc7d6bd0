import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
#if canImport(Glibc)
import Glibc
#endif

// closeorderd-floor (issue 24): the least one close can cost on this machine. An AsyncHTTPClient
// POST loop, configured as the daemon's transport is (one event loop, pooled HTTP/1.1
// connections up to the concurrency, no redirects, no decompression, no tracing), against a
// minimal NIO HTTP/1.1 server on loopback answering a canned close answer at once. The server is
// a child process, so this process's CPU (getrusage: every thread, user + system) is the client's
// alone: one request's HTTP and task hand-offs, with no signing, XML, decision or SQLite.
// Daemon CPU per close ÷ this = what everything else costs (scripts/bench reports it beside P1).
//
//   closeorderd-floor [--requests N] [--concurrency C] [--warmup N]   one line: key=value figures
//   closeorderd-floor server                                           (the child; prints its port)

/// A close request's and answer's sizes, about what the daemon sends and the fake answers (v2).
let requestBody = ByteBuffer(string: "<xml><appid>wx2421b1c4370ec43b</appid><mch_id>1900000109</mch_id>"
    + "<nonce_str>5K8264ILTKCH16CQ2502SI8ZNMTM67VS</nonce_str><out_trade_no>P1-000000001</out_trade_no>"
    + "<sign_type>HMAC-SHA256</sign_type><sign>C380BEC2BFD727A4B6845133519F3AD6C380BEC2BFD727A4B6845133519F3AD6</sign></xml>")
let answerBody = ByteBuffer(string: "<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg>"
    + "<appid><![CDATA[wx2421b1c4370ec43b]]></appid><mch_id><![CDATA[1900000109]]></mch_id>"
    + "<nonce_str><![CDATA[BFK89FC6rxKCOjLX]]></nonce_str><sign><![CDATA[72B321D92A7BFA0B2509F3D13C7B1631]]></sign>"
    + "<result_code><![CDATA[SUCCESS]]></result_code></xml>")

/// Answers every request, once its body is in, with `answerBody`.
final class CannedAnswer: ChannelInboundHandler, Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .end = unwrapInboundIn(data) else { return }
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "text/xml")
        headers.add(name: "Content-Length", value: "\(answerBody.readableBytes)")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(answerBody))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }
}

func serve() throws -> Never {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    let channel = try ServerBootstrap(group: group)
        .serverChannelOption(.backlog, value: 1024)
        .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
        .childChannelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                try channel.pipeline.syncOperations.addHandler(CannedAnswer())
            }
        }
        .bind(host: "127.0.0.1", port: 0).wait()
    FileHandle.standardOutput.write(Data("\(channel.localAddress?.port ?? 0)\n".utf8))
    // Until the client closes our stdin (or dies).
    while getchar() != EOF {}
    exit(0)
}

func cpuSeconds() -> Double {
    var usage = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}

func now() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}

/// `count` POSTs, `concurrency` at a time (each task its share, one after the other), each awaited
/// as the daemon awaits its calls.
func post(_ client: HTTPClient, url: String, count: Int, concurrency: Int) async throws {
    try await withThrowingTaskGroup(of: Void.self) { group in
        for task in 0..<concurrency {
            let share = count / concurrency + (task < count % concurrency ? 1 : 0)
            group.addTask {
                for _ in 0..<share {
                    var request = try HTTPClient.Request(url: url, method: .POST, body: .byteBuffer(requestBody))
                    request.headers.add(name: "Content-Type", value: "text/xml")
                    let task = client.execute(request: request, delegate: ResponseAccumulator(request: request),
                                              deadline: .now() + .seconds(10))
                    let response = try await task.futureResult.get()
                    guard response.status == .ok else { throw FloorError("HTTP \(response.status.code)") }
                }
            }
        }
        try await group.waitForAll()
    }
}

struct FloorError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

func client(requests: Int, concurrency: Int, warmup: Int) async throws {
    let server = Process()
    server.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
    server.arguments = ["server"]
    let output = Pipe(), input = Pipe()
    server.standardOutput = output
    server.standardInput = input
    try server.run()
    defer { try? input.fileHandleForWriting.close(); server.waitUntilExit() }
    var line = Data()
    while let byte = try output.fileHandleForReading.read(upToCount: 1), let first = byte.first, first != 10 { line.append(first) }
    guard let port = Int(String(decoding: line, as: UTF8.self)), port > 0 else { throw FloorError("the server gave no port") }

    var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow, timeout: .init(connect: .seconds(1)))
    configuration.connectionPool.retryConnectionEstablishment = false
    configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = concurrency
    configuration.decompression = .disabled
    configuration.tracing.tracer = nil
    let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup.next(), configuration: configuration)
    let url = "http://127.0.0.1:\(port)/pay/closeorder"
    try await post(client, url: url, count: warmup, concurrency: concurrency)   // connections opened, caches warm
    let (cpu0, t0) = (cpuSeconds(), now())
    try await post(client, url: url, count: requests, concurrency: concurrency)
    let (cpu, seconds) = (cpuSeconds() - cpu0, now() - t0)
    try await client.shutdown()
    print(String(format: "requests=%d concurrency=%d seconds=%.3f rate=%.0f client_us_per_request=%.2f",
                 requests, concurrency, seconds, Double(requests) / seconds, cpu / Double(requests) * 1e6))
}

let arguments = Array(CommandLine.arguments.dropFirst())
if arguments.first == "server" { try serve() }
func value(_ name: String, _ fallback: Int) -> Int {
    guard let index = arguments.firstIndex(of: "--" + name), index + 1 < arguments.count else { return fallback }
    return Int(arguments[index + 1]) ?? fallback
}
do {
    try await client(requests: value("requests", 20_000), concurrency: value("concurrency", 64), warmup: value("warmup", 2_000))
} catch {
    FileHandle.standardError.write(Data("closeorderd-floor: \(error)\n".utf8))
    exit(1)
}
