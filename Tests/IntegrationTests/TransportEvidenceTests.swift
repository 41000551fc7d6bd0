import AsyncHTTPClient
import FakeWeChatPay
import Foundation
import Logging
import OrderClosing
import OrderClosingTestSupport
import Synchronization
import Testing
import WeChatPayHTTP
import WeChatPayV2

/// Issue 21, items 1 and 7: a transport failure is judged by what is known to have left this
/// machine, over real loopback HTTP(S). A failure after the request was written never sends it
/// again to the backup, and a failure on this machine (a full connection pool) is not an outage.
@Suite struct TransportEvidenceTests {
    static let epoch: Int64 = 1_800_000_000_000

    /// Item 1, the reproducer: the TLS primary reads the whole POST, answers `200` without a length
    /// and half a body, and closes TCP without `close_notify`. One POST in all, no failover, no
    /// "unreachable" log, one audit row naming the primary, and the order retried in doubt.
    @Test(
        .enabled(if: SelfSignedCertificate.hasOpenSSL, "needs the openssl command to make a certificate"), .timeLimit(.minutes(1))
    )
    func aTLSErrorAfterTheRequestWasSentIsNotPostedAgainToTheBackup() async throws {
        let certificate = try SelfSignedCertificate()
        defer { certificate.remove() }
        let primary = HalfAnswerTLSServer(certificate: certificate)
        try await primary.start()
        let world = try await World.start(primaryURL: primary.baseURL, caFile: certificate.certificatePath)

        let processed = await world.closer.process(world.claim("HALF-1", attempt: 1))
        #expect(primary.requests == ["POST /pay/closeorder HTTP/1.1"], "the primary read the POST once")
        #expect(world.backupFake.calls.isEmpty, "POSTed again to the backup: \(world.backupFake.calls.map(\.path))")
        #expect(world.transport.currentEndpoint == primary.baseURL, "one broken answer moved every merchant to the backup")
        #expect(world.logs.messages(atLeast: .error).isEmpty, "logged: \(world.logs.messages(atLeast: .error))")

        #expect(processed.write.attempts.count == 1)
        #expect(processed.write.attempts.first?.endpoint == primary.baseURL)
        guard case .retry(_, let reason, let inDoubt, let refundAttempt) = processed.write.change else {
            Issue.record("expected a retry, got \(processed.write.change)")
            try await world.shutdown()
            try await primary.shutdown()
            return
        }
        #expect(inDoubt, "WeChat Pay may have closed it: \(reason)")
        #expect(!refundAttempt, "the attempt reached WeChat Pay")
        try await world.shutdown()
        try await primary.shutdown()
    }

    /// The other side of item 1: a TLS failure before any byte of the request (the primary's
    /// certificate is not trusted) still fails over within the call.
    @Test(
        .enabled(if: SelfSignedCertificate.hasOpenSSL, "needs the openssl command to make a certificate"), .timeLimit(.minutes(1))
    )
    func aTLSHandshakeFailureFailsOverWithinTheCall() async throws {
        let certificate = try SelfSignedCertificate()
        defer { certificate.remove() }
        let primary = HalfAnswerTLSServer(certificate: certificate)
        try await primary.start()
        // No CA file: the system store does not trust the primary's certificate.
        let world = try await World.start(primaryURL: primary.baseURL, caFile: nil)

        let processed = await world.closer.process(world.claim("HANDSHAKE-1", attempt: 1))
        #expect(primary.requests.isEmpty)
        #expect(world.backupFake.calls.count == 1)
        #expect(processed.write.attempts.map(\.endpoint) == [world.backup.baseURL])
        guard case .finish(.closed, _, _, _) = processed.write.change else {
            Issue.record("expected closed through the backup, got \(processed.write.change)")
            try await world.shutdown()
            try await primary.shutdown()
            return
        }
        #expect(world.transport.currentEndpoint == world.backup.baseURL)
        // The MESSAGE names the cause (a failed handshake) and the backup; a warning, as the backup serves.
        let failover = world.logs.messages(atLeast: .warning).filter {
            $0.contains("unreachable (connection error: cannot connect: ")
        }
        #expect(failover.count == 1, "logged: \(world.logs.messages(atLeast: .notice))")
        #expect(failover.first?.contains("using the backup \(world.backup.baseURL)") == true)
        #expect(!world.logs.messages(atLeast: .error).contains { $0.contains("failover") })
        try await world.shutdown()
        try await primary.shutdown()
    }

    /// Item 7: with the pool's one connection busy, a second call waits the connect timeout for a
    /// connection and gets none. That is this machine's congestion: nothing was sent, the call does
    /// not go to the backup, nothing logs the primary as unreachable, and later calls stay on it.
    @Test(.timeLimit(.minutes(1))) func aFullConnectionPoolIsNotAnOutage() async throws {
        let primaryFake = FakeWeChatPay(
            merchants: [FakeMerchant(mchID: FakeFixture.mchID, key: FakeFixture.key, appIDs: [FakeFixture.appID])],
            now: { Double(Self.epoch) / 1000 })
        let primary = FakeWeChatPayServer(fake: primaryFake)
        try await primary.start()
        let world = try await World.start(primaryURL: primary.baseURL, caFile: nil, maxConnections: 1, connectTimeoutMs: 500)
        for name in ["POOL-WARM", "POOL-1", "POOL-2", "POOL-3"] { world.addOrder(name, to: primaryFake) }

        let warm = await world.closer.process(world.claim("POOL-WARM", attempt: 1))
        guard case .finish(.closed, _, _, _) = warm.write.change else { throw Failed("warm-up: \(warm.write.change)") }
        primaryFake.holdAnswers()
        let first = Task { await world.closer.process(world.claim("POOL-1", attempt: 1)) }
        await primaryFake.waitForCalls(2)  // the pool's one connection now waits for its answer

        let second = await world.closer.process(world.claim("POOL-2", attempt: 1))
        #expect(world.backupFake.calls.isEmpty, "sent to the backup: \(world.backupFake.calls.map(\.path))")
        #expect(world.transport.currentEndpoint == primary.baseURL)
        #expect(
            !world.logs.messages(atLeast: .notice).contains { $0.contains("failover") },
            "logged: \(world.logs.messages(atLeast: .notice))")
        #expect(second.write.attempts.count == 1)
        if case .retry(_, let reason, let inDoubt, let refundAttempt) = second.write.change {
            #expect(!inDoubt && refundAttempt, "nothing was sent: \(reason)")
            #expect(reason.contains("connection pool"), "the reason names the cause: \(reason)")
        } else {
            Issue.record("expected a retry, got \(second.write.change)")
        }

        primaryFake.releaseAnswers()
        let answered = await first.value
        guard case .finish(.closed, _, _, _) = answered.write.change else { throw Failed("held call: \(answered.write.change)") }
        let third = await world.closer.process(world.claim("POOL-3", attempt: 1))
        #expect(third.write.attempts.map(\.endpoint) == [primary.baseURL])
        try await world.shutdown()
        try await primary.shutdown()
    }

    struct Failed: Error, CustomStringConvertible {
        let description: String
        init(_ text: String) { description = text }
    }

    /// A v2 closer on a transport whose backup is a fake of its own (so anything it receives was
    /// sent there by failover), with the transport's log lines captured.
    struct World {
        let backupFake: FakeWeChatPay
        let backup: FakeWeChatPayServer
        let client: HTTPClient
        let clientGuard: ClientGuard
        let transport: WeChatPayTransport
        let closer: OrderCloser
        let logs: CapturedLogs

        static func start(primaryURL: String, caFile: String?, maxConnections: Int = 64, connectTimeoutMs: Int64 = 10_000)
            async throws -> World
        {
            let clock = ManualClock(now: epoch)
            let backupFake = FakeWeChatPay(
                merchants: [FakeMerchant(mchID: FakeFixture.mchID, key: FakeFixture.key, appIDs: [FakeFixture.appID])],
                now: { Double(clock.now()) / 1000 })
            let backup = FakeWeChatPayServer(fake: backupFake)
            try await backup.start()
            var settings = GatewaySettings()
            settings.primaryURL = primaryURL
            settings.backupURL = backup.baseURL
            settings.caFile = caFile
            settings.maxConnections = maxConnections
            settings.connectTimeoutMs = connectTimeoutMs
            settings.totalTimeoutMs = 30_000
            let logs = CapturedLogs()
            let logger = Logger(label: "transport") { _ in logs }
            let client = try WeChatPayTransport.makeClient(settings: settings)
            let transport = WeChatPayTransport(client: client, settings: settings, clock: clock, logger: logger)
            let profile = MerchantProfile(
                merchant: V2Merchant(
                    credentials: MerchantCredentials(mchID: FakeFixture.mchID, signType: .hmacSHA256, key: FakeFixture.key)),
                appIDs: [FakeFixture.appID])
            var quiet = Logger(label: "closer")
            quiet.logLevel = .critical
            let closer = OrderCloser(
                gateway: WeChatPayHTTPGateway(transport: transport), clock: clock, merchants: [profile],
                retry: RetryPolicy(), logger: quiet, jitter: { 0.5 })
            let world = World(
                backupFake: backupFake, backup: backup, client: client, clientGuard: ClientGuard(client),
                transport: transport, closer: closer, logs: logs)
            for name in ["HALF-1", "HANDSHAKE-1", "POOL-1", "POOL-2", "POOL-3", "POOL-WARM"] {
                world.addOrder(name, to: backupFake)
            }
            return world
        }

        /// An unpaid order, ten minutes old, on `fake`.
        func addOrder(_ outTradeNo: String, to fake: FakeWeChatPay) {
            fake.addOrder(mchID: FakeFixture.mchID, outTradeNo: outTradeNo, createdAt: Double(epoch) / 1000 - 600)
        }

        func claim(_ outTradeNo: String, attempt: Int) -> ClaimedOrder {
            ClaimedOrder(
                id: 1, mchID: FakeFixture.mchID, appID: FakeFixture.appID, outTradeNo: outTradeNo, subMchID: nil, subAppID: nil,
                createdAt: epoch / 1000 - 600, timeoutSeconds: 0, attempt: attempt, inDoubt: false,
                firstAttemptAt: epoch, leaseToken: "lease")
        }

        func shutdown() async throws {
            clientGuard.markShutDown()
            try await client.shutdown()
            try await backup.shutdown()
        }
    }
}

/// Keeps every log line's level and message.
final class CapturedLogs: LogHandler, Sendable {
    private let lines = Mutex<[(Logger.Level, String)]>([])

    func messages(atLeast level: Logger.Level) -> [String] {
        lines.withLock { $0.filter { $0.0 >= level }.map(\.1) }
    }

    func log(event: LogEvent) {
        lines.withLock { $0.append((event.level, "\(event.message)")) }
    }

    subscript(metadataKey _: String) -> Logger.Metadata.Value? {
        get { nil }
        set {}
    }

    var metadata: Logger.Metadata {
        get { [:] }
        set {}
    }

    var logLevel: Logger.Level {
        get { .trace }
        set {}
    }
}
