import FakeWeChatPay
import Foundation
import Testing
import WeChatPayV2

#if canImport(Glibc)
    import Glibc
#endif

/// The fake's HTTP server on the wire, through a plain socket: it writes its answers itself, so
/// what HTTP/1.1 asks of a server (answers in request order, 400 for a request it cannot parse)
/// is checked here, along with the XML it writes.
@Suite struct FakeServerTests {
    static let key = try! APIKey("192006250b4c09247ec02edce69f6a2d")
    static let appID = "wxd930ea5d5a258f4f"

    func makeFake() -> FakeWeChatPay {
        FakeWeChatPay(
            merchants: [
                FakeMerchant(mchID: "10000100", key: Self.key, appIDs: [Self.appID]),
                FakeMerchant(mchID: "10000200", key: Self.key, appIDs: [Self.appID], isServiceProvider: true),
            ],
            now: { 2_000_000_000 })
    }

    func body(_ outTradeNo: String, mchID: String = "10000100", signType: SignType = .md5, extra: [String: String] = [:])
        -> [UInt8]
    {
        var fields = [
            "appid": Self.appID, "mch_id": mchID, "out_trade_no": outTradeNo, "nonce_str": Nonce.make(),
            "sign_type": signType.rawValue,
        ].merging(extra) { $1 }
        fields["sign"] = Signer.sign(fields, type: signType, key: Self.key)
        return try! XMLBodyEncoder.encode(fields)
    }

    func request(_ path: String, _ body: [UInt8]) -> [UInt8] {
        Array("POST \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/xml\r\nContent-Length: \(body.count)\r\n\r\n".utf8)
            + body
    }

    @Test func answersPipelinedRequestsInOrderEvenWhenTheFirstIsHeldBack() async throws {
        let fake = makeFake()
        fake.addOrder(mchID: "10000100", outTradeNo: "PIPE", createdAt: 1)
        let server = FakeWeChatPayServer(fake: fake)
        let port = try await server.start()
        defer { Task { try? await server.shutdown() } }
        let socket = try LoopbackSocket(port: port)
        defer { socket.close() }

        // The close's answer is held until the query is on the wire behind it. (Before, a 300 ms
        // latency held it: a test thread stalled that long sent the query after the answer was
        // out, and the test passed without pipelining anything.)
        fake.holdAnswers()
        socket.send(request("/pay/closeorder", body("PIPE")))
        try await waitUntil("the fake to receive the close") { !fake.calls.isEmpty }
        socket.send(request("/pay/orderquery", body("PIPE")))
        fake.releaseAnswers()

        let first = try #require(socket.readResponse())
        let second = try #require(socket.readResponse())
        #expect(first.status == 200 && second.status == 200)
        #expect(try StrictXMLDecoder.decode(first.body)["result_code"] == "SUCCESS")
        #expect(try StrictXMLDecoder.decode(first.body)["trade_state"] == nil)
        #expect(try StrictXMLDecoder.decode(second.body)["trade_state"] == "CLOSED")
    }

    @Test func heldAnswersWaitForTheRelease() throws {
        let fake = makeFake()
        fake.holdAnswers()
        let held = fake.handle(method: "POST", path: "/pay/closeorder", body: body("HELD"))
        let gate = try #require(held.gate)
        let sent = Flag()
        gate.whenOpen { sent.set() }
        #expect(!sent.isSet, "a held answer went out before the release")
        fake.releaseAnswers()
        #expect(sent.isSet)
        #expect(fake.handle(method: "POST", path: "/pay/closeorder", body: body("FREE")).gate == nil)
        #expect(fake.calls.count == 2, "held or not, every call is recorded when it arrives")
    }

    @Test func answersAnUnparseableRequestWith400AndCloses() async throws {
        let server = FakeWeChatPayServer(fake: makeFake())
        let port = try await server.start()
        defer { Task { try? await server.shutdown() } }
        let socket = try LoopbackSocket(port: port)
        defer { socket.close() }

        socket.send(Array("POST /pay/closeorder HTTP/1.1\r\nContent-Length: nope\r\n\r\n".utf8))
        let answer = try #require(socket.readResponse())
        #expect(answer.status == 400)
        #expect(answer.head.lowercased().contains("connection: close"))
        #expect(socket.readResponse() == nil)
    }

    @Test func keepsTheConnectionForMoreRequests() async throws {
        let fake = makeFake()
        let server = FakeWeChatPayServer(fake: fake)
        let port = try await server.start()
        defer { Task { try? await server.shutdown() } }
        let socket = try LoopbackSocket(port: port)
        defer { socket.close() }

        for index in 0..<3 {
            socket.send(request("/pay/closeorder?x=\(index)", body("KEEP-\(index)")))
            let answer = try #require(socket.readResponse())
            #expect(answer.status == 200)
            #expect(answer.head.lowercased().contains("connection: keep-alive"))
            #expect(try StrictXMLDecoder.decode(answer.body)["err_code"] == "ORDERNOTEXIST")
        }
        #expect(fake.calls.map(\.path) == Array(repeating: "/pay/closeorder", count: 3))
        socket.send(request("/nowhere", []))
        #expect(socket.readResponse()?.status == 404)
    }

    /// The fake's answers must be byte for byte what `XMLBodyEncoder` writes for the same fields,
    /// `]]>` in an echoed value included.
    @Test(arguments: [SignType.md5, .hmacSHA256])
    func answersAreTheXMLTheEncoderWrites(_ signType: SignType) throws {
        let fake = makeFake()
        fake.addOrder(mchID: "10000200", outTradeNo: "XML", createdAt: 1)
        fake.script(mchID: "10000200", outTradeNo: "XML", [.orderClosed])
        let requests: [(String, [String: String])] = [
            ("/pay/closeorder", ["sub_mch_id": "19]]>00]]]>x]]"]),  // scripted ORDERCLOSED
            ("/pay/orderquery", ["sub_mch_id": "1900000000"]),  // TRADE_STATE:NOTPAY
            ("/pay/closeorder", [:]),  // SUCCESS
            ("/pay/orderquery", [:]),  // TRADE_STATE:CLOSED
        ]
        for (path, extra) in requests {
            let answer = fake.handle(
                method: "POST", path: path, body: body("XML", mchID: "10000200", signType: signType, extra: extra))
            guard case .respond(200, let bytes) = answer.action else {
                Issue.record("no 200 answer")
                continue
            }
            let fields = try StrictXMLDecoder.decode(bytes)
            #expect(bytes == (try XMLBodyEncoder.encode(fields)))
            #expect(fields["sub_mch_id"] == extra["sub_mch_id"])
            #expect(Signer.isValid(sign: fields["sign"] ?? "", for: fields, type: signType, key: Self.key))
        }
        #expect(fake.calls.map(\.answer) == ["ORDERCLOSED", "TRADE_STATE:NOTPAY", "SUCCESS", "TRADE_STATE:CLOSED"])
        let failure = fake.handle(method: "GET", path: "/pay/closeorder", body: [])
        guard case .respond(200, let bytes) = failure.action else {
            Issue.record("no 200 answer")
            return
        }
        #expect(bytes == (try XMLBodyEncoder.encode(["return_code": "FAIL", "return_msg": "REQUIRE_POST_METHOD"])))
    }

    /// A flaky failover test met "connection reset" instead of "refused", and another crashed when
    /// the outage ended: the port freed by the outage had been given to another test's server. The
    /// port now changes hands between the listener and a hold without ever being free.
    @Test func anOutageHoldsItsPortSoNoOtherServerIsGivenIt() async throws {
        let server = FakeWeChatPayServer(fake: makeFake())
        let port = try await server.start()
        for round in 1...3 {
            try await server.setOutage(true)
            #expect(throws: LoopbackSocket.SocketError.self, "round \(round): a client meets connection refused") {
                try LoopbackSocket(port: port)
            }
            #expect(!Self.canBind(port), "round \(round): another socket is not given the held port")
            try await server.setOutage(false)
            #expect(!Self.canBind(port), "round \(round): nor the listening one")
            let socket = try LoopbackSocket(port: port)
            socket.send(request("/pay/closeorder", body("BACK-\(round)")))
            #expect(socket.readResponse()?.status == 200, "round \(round): the fake listens on its port again")
            socket.close()
        }
        try await server.shutdown()
    }

    /// Whether a plain TCP socket (SO_REUSEADDR, as servers set it) can bind 127.0.0.1:`port`.
    static func canBind(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { Glibc.close(fd) }
        var on: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }

    @Test func answerNoncesDifferFromCallToCall() throws {
        let fake = makeFake()
        var nonces: Set<String> = []
        for _ in 0..<20 {
            let answer = fake.handle(method: "POST", path: "/pay/closeorder", body: body("UNKNOWN"))
            guard case .respond(200, let bytes) = answer.action else {
                Issue.record("no 200 answer")
                continue
            }
            let nonce = try #require(try StrictXMLDecoder.decode(bytes)["nonce_str"])
            #expect(nonce.utf8.count == 32)
            nonces.insert(nonce)
        }
        #expect(nonces.count == 20)
    }
}

/// Waits for `condition` with a deadline; a regression fails the test saying what was awaited instead of hanging it.
func waitUntil(_ awaited: String, timeout: Duration = .seconds(30), _ condition: () -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while !condition() {
        guard ContinuousClock.now < deadline else {
            Issue.record("timed out after \(timeout) waiting for \(awaited)")
            throw CancellationError()
        }
        try await Task.sleep(for: .milliseconds(5))
    }
}

/// A thread-safe boolean.
final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.withLock { value = true } }
    var isSet: Bool { lock.withLock { value } }
}

/// A blocking loopback TCP client with a 5 s receive timeout, enough to read HTTP/1.1 answers
/// that carry a Content-Length.
final class LoopbackSocket {
    let fd: Int32
    var buffer: [UInt8] = []

    struct Response: Equatable {
        let status: Int
        let head: String
        let body: [UInt8]
    }

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else {
            Glibc.close(fd)
            throw SocketError()
        }
    }

    struct SocketError: Error {}

    func send(_ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// The next answer, or nil when the server closed the connection (or 5 s passed) first.
    func readResponse() -> Response? {
        while true {
            if let end = headEnd() {
                let head = String(decoding: buffer[..<end], as: UTF8.self)
                let lines = head.split(separator: "\r\n")
                let status = lines.first.flatMap { Int($0.split(separator: " ")[1]) } ?? 0
                let length =
                    lines.dropFirst().compactMap { line -> Int? in
                        let parts = line.split(separator: ":", maxSplits: 1)
                        guard parts.count == 2, parts[0].lowercased() == "content-length" else { return nil }
                        return Int(parts[1].trimmingPrefix(" "))
                    }.first ?? 0
                if buffer.count >= end + 4 + length {
                    let body = Array(buffer[(end + 4)..<(end + 4 + length)])
                    buffer.removeFirst(end + 4 + length)
                    return Response(status: status, head: head, body: body)
                }
            }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { return nil }
            buffer += chunk[..<count]
        }
    }

    func headEnd() -> Int? {
        guard buffer.count >= 4 else { return nil }
        for index in 0...(buffer.count - 4)
        where buffer[index] == 13 && buffer[index + 1] == 10 && buffer[index + 2] == 13 && buffer[index + 3] == 10 {
            return index
        }
        return nil
    }

    func close() { Glibc.close(fd) }
}
