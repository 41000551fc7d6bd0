import AsyncHTTPClient
import FakeWeChatPay
import Logging
import OrderClosing
import OrderClosingTestSupport
import Synchronization
import WeChatPayHTTP
import WeChatPayV2

/// A fake WeChat Pay on loopback (two access points over one brain) and a gateway pointed at it.
struct FakeFixture {
    static let mchID = "1900000109"
    static let appID = "wx2421b1c4370ec43b"
    static let key = try! APIKey("192006250b4c09247ec02edce69f6a2d")
    static let epoch: Int64 = 1_800_000_000_000

    let fake: FakeWeChatPay
    let primary: FakeWeChatPayServer
    let backup: FakeWeChatPayServer
    let clock: ManualClock
    let client: HTTPClient
    let gateway: WeChatPayHTTPGateway
    /// Shuts the client down if a test ends by a thrown error before `shutdown()`: AsyncHTTPClient
    /// traps when a client is freed still running, which would end every test in the process
    /// and hide the error that caused it (seen once under load, in SharedTransportTests).
    let clientGuard: ClientGuard

    /// - Parameter totalTimeoutMs: the gateway's call timeout. The default only catches a hang: at
    ///   2 s a loaded machine could time out an ordinary loopback call and change its outcome. A
    ///   test about timeouts passes its own.
    static func start(signType: SignType = .hmacSHA256, totalTimeoutMs: Int64 = 30_000, withBackup: Bool = false) async throws
        -> FakeFixture
    {
        let clock = ManualClock(now: epoch)
        let fake = FakeWeChatPay(
            merchants: [FakeMerchant(mchID: mchID, key: key, appIDs: [appID])],
            now: { Double(clock.now()) / 1000 })
        let primary = FakeWeChatPayServer(fake: fake)
        let backup = FakeWeChatPayServer(fake: fake)
        try await primary.start()
        try await backup.start()
        var settings = GatewaySettings()
        settings.primaryURL = primary.baseURL
        settings.backupURL = withBackup ? backup.baseURL : nil
        settings.connectTimeoutMs = min(10_000, totalTimeoutMs)
        settings.totalTimeoutMs = totalTimeoutMs
        settings.probeIntervalMs = 30_000
        let client = try WeChatPayHTTPGateway.makeClient(settings: settings)
        let gateway = WeChatPayHTTPGateway(client: client, settings: settings, clock: clock, logger: Logger(label: "test"))
        return FakeFixture(
            fake: fake, primary: primary, backup: backup, clock: clock, client: client, gateway: gateway,
            clientGuard: ClientGuard(client))
    }

    func credentials(_ signType: SignType = .hmacSHA256, key: APIKey = FakeFixture.key) -> MerchantCredentials {
        MerchantCredentials(mchID: Self.mchID, signType: signType, key: key)
    }

    /// An order placed ten minutes before the clock's now, so closing it is allowed.
    func placeOrder(_ outTradeNo: String, state: FakeOrderState = .notPay) throws -> OrderReference {
        fake.addOrder(mchID: Self.mchID, outTradeNo: outTradeNo, createdAt: Double(clock.now()) / 1000 - 600, state: state)
        return try OrderReference(appID: Self.appID, mchID: Self.mchID, outTradeNo: outTradeNo)
    }

    /// One close through the primary, so the next call finds a connection open and writes its
    /// request at once (a test about a deadline then does not also race the connect). Under a
    /// sanitizer on a loaded machine the first call can outlast a test's short deadline (seen:
    /// 1 s); the connection is open by then, so a timed-out warm-up is tried again, up to 5 times.
    func warmUp() async throws {
        var outcome = ""
        for attempt in 1...5 {
            let response = await gateway.closeOrder(try placeOrder("WARM-UP-\(attempt)"), credentials: credentials())
            if response.outcome == .closed { return }
            outcome = "\(response.outcome)"
            guard case .retryable(.timeout) = response.outcome else { break }
        }
        throw WarmUpFailed(outcome: outcome)
    }

    struct WarmUpFailed: Error { let outcome: String }

    func shutdown() async throws {
        clientGuard.markShutDown()
        try await client.shutdown()
        try await primary.shutdown()
        try await backup.shutdown()
    }
}

/// Frees a test's HTTP client safely on every path (see `FakeFixture.clientGuard`).
final class ClientGuard: Sendable {
    private let client: HTTPClient
    private let shutDown = Mutex(false)

    init(_ client: HTTPClient) { self.client = client }

    func markShutDown() { shutDown.withLock { $0 = true } }

    deinit {
        if !shutDown.withLock { $0 } { try? client.syncShutdown() }
    }
}
