import AsyncHTTPClient
import FakeWeChatPay
import Foundation
import Logging
import NIOSSL
import OrderClosing
import OrderClosingTestSupport
import Testing
import WeChatPayHTTP
import WeChatPayV2

/// R5: an HTTPS fake with a self-signed certificate is refused by the system trust store, and
/// accepted only when its CA is configured.
@Suite struct TLSTrustTests {
    static let hasOpenSSL = FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl")

    @Test(.enabled(if: hasOpenSSL, "needs the openssl command to make a certificate"))
    func selfSignedCertificateIsRefusedUnlessItsCAIsConfigured() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("closeorderd-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let certificate = directory.appendingPathComponent("cert.pem").path
        let key = directory.appendingPathComponent("key.pem").path
        let openssl = Process()
        openssl.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        openssl.arguments = [
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", certificate, "-days", "1",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
        ]
        openssl.standardError = FileHandle.nullDevice
        let exited = DispatchSemaphore(value: 0)
        openssl.terminationHandler = { _ in exited.signal() }
        try openssl.run()
        // Bounded, so a stuck openssl fails the test instead of hanging the run.
        guard exited.wait(timeout: .now() + 120) == .success else {
            openssl.terminate()
            Issue.record("timed out after 120 s waiting for openssl to make a certificate")
            return
        }
        #expect(openssl.terminationStatus == 0)

        let context = try NIOSSLContext(
            configuration: .makeServerConfiguration(
                certificateChain: try NIOSSLCertificate.fromPEMFile(certificate).map { .certificate($0) },
                privateKey: .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))))
        let fake = FakeWeChatPay(
            merchants: [FakeMerchant(mchID: FakeFixture.mchID, key: FakeFixture.key, appIDs: [FakeFixture.appID])],
            now: { Date().timeIntervalSince1970 })
        fake.addOrder(mchID: FakeFixture.mchID, outTradeNo: "TLS-1", createdAt: Date().timeIntervalSince1970 - 600)
        let server = FakeWeChatPayServer(fake: fake, tls: context)
        try await server.start()
        #expect(server.baseURL.hasPrefix("https://"))
        let order = try OrderReference(appID: FakeFixture.appID, mchID: FakeFixture.mchID, outTradeNo: "TLS-1")
        let credentials = MerchantCredentials(mchID: FakeFixture.mchID, signType: .hmacSHA256, key: FakeFixture.key)

        var settings = GatewaySettings()
        settings.primaryURL = server.baseURL
        settings.backupURL = nil
        let untrusting = try WeChatPayHTTPGateway.makeClient(settings: settings)
        let refused = await WeChatPayHTTPGateway(
            client: untrusting, settings: settings, clock: SystemOrderClock(), logger: Logger(label: "tls")
        )
        .closeOrder(order, credentials: credentials)
        guard case .retryable(.connection(let reason)) = refused.outcome else {
            Issue.record("got \(refused.outcome)")
            return
        }
        #expect(!refused.delivered, "TLS failed, so nothing was sent: \(reason)")
        #expect(fake.calls.isEmpty)
        try await untrusting.shutdown()

        settings.caFile = certificate
        let trusting = try WeChatPayHTTPGateway.makeClient(settings: settings)
        let accepted = await WeChatPayHTTPGateway(
            client: trusting, settings: settings, clock: SystemOrderClock(), logger: Logger(label: "tls")
        )
        .closeOrder(order, credentials: credentials)
        #expect(accepted.outcome == .closed)
        try await trusting.shutdown()
        try await server.shutdown()
    }
}
