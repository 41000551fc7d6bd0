import AsyncHTTPClient
import FakeWeChatPay
import Foundation
import Logging
import NIOSSL
import OrderClosing
import Testing
import WeChatPayHTTP
import WeChatPayV2

/// Issue 10 defect 9: the gateway refuses a server that offers nothing newer than TLS 1.1.
@Suite struct TLSVersionTests {
    @Test(.enabled(if: TLSTrustTests.hasOpenSSL, "needs the openssl command to make a certificate"))
    func tls11IsRefused() async throws {
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
        try openssl.run()
        openssl.waitUntilExit()
        #expect(openssl.terminationStatus == 0)

        var serverTLS = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(certificate).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: key, format: .pem)))
        serverTLS.minimumTLSVersion = .tlsv1
        serverTLS.maximumTLSVersion = .tlsv11
        let fake = FakeWeChatPay(
            merchants: [FakeMerchant(mchID: FakeFixture.mchID, key: FakeFixture.key, appIDs: [FakeFixture.appID])],
            now: { Date().timeIntervalSince1970 })
        fake.addOrder(mchID: FakeFixture.mchID, outTradeNo: "TLS-11", createdAt: Date().timeIntervalSince1970 - 600)
        let server = FakeWeChatPayServer(fake: fake, tls: try NIOSSLContext(configuration: serverTLS))
        try await server.start()
        let order = try OrderReference(appID: FakeFixture.appID, mchID: FakeFixture.mchID, outTradeNo: "TLS-11")
        let credentials = MerchantCredentials(mchID: FakeFixture.mchID, signType: .hmacSHA256, key: FakeFixture.key)
        var settings = GatewaySettings()
        settings.primaryURL = server.baseURL
        settings.backupURL = nil
        settings.caFile = certificate  // trusted, so only the protocol version can refuse it
        let client = try WeChatPayHTTPGateway.makeClient(settings: settings)
        let answer = await WeChatPayHTTPGateway(
            client: client, settings: settings, clock: SystemOrderClock(), logger: Logger(label: "tls")
        )
        .closeOrder(order, credentials: credentials)
        if case .retryable(.connection) = answer.outcome {} else { Issue.record("TLS 1.1 accepted: \(answer.outcome)") }
        #expect(fake.calls.isEmpty)
        try await client.shutdown()
        try await server.shutdown()
    }
}
