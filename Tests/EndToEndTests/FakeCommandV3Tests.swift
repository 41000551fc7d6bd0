import FakeWeChatPay
import Foundation
import Testing

/// `closeorderd fake-wechatpay` serves v3 merchants from the daemon's own config: the real binary
/// as the fake, and `check-config --online` against it proves that the fake checked the v3
/// merchant's request signature and that the daemon's side believed the fake's signed answer.
@Suite(.serialized) struct FakeCommandV3Tests {
    @Test func theStandaloneFakeServesAV3MerchantInPublicKeyMode() async throws {
        let world = try await EndToEndWorld.start()
        _ = try V3EndToEndTests.addV3Merchant(world, mode: .publicKey)
        let port = try ReservedPort()
        let config = try String(contentsOfFile: world.configPath, encoding: .utf8)
        try config.replacingOccurrences(of: world.server.baseURL, with: "http://127.0.0.1:\(port.port)")
            .write(toFile: world.configPath, atomically: true, encoding: .utf8)
        // The fake makes its own WeChat Pay key and writes the public half where the config looks.
        let publicKeyFile = world.directory.appendingPathComponent("wechatpay_public_key.pem").path
        let before = try String(contentsOfFile: publicKeyFile, encoding: .utf8)

        let stdoutPath = world.directory.appendingPathComponent("fake.out").path
        FileManager.default.createFile(atPath: stdoutPath, contents: nil)
        let fake = try DaemonProcess(
            arguments: [
                "fake-wechatpay", "--config", world.configPath, "--port", "\(port.port)",
                "--write-wechatpay-public-key", publicKeyFile,
            ],
            environment: [:], stderrPath: world.directory.appendingPathComponent("fake.err").path)
        fake.process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: stdoutPath))
        try fake.start()
        func output() -> String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
        #expect(try await eventually(timeout: .seconds(60)) { output().contains("listening on") }, "\(output()) \(fake.log)")
        #expect(output().contains("on API v3 \(V3EndToEndTests.v3MchID)"), "\(output())")
        #expect(try String(contentsOfFile: publicKeyFile, encoding: .utf8) != before, "the fake did not write its own public key")
        #expect(!fake.log.contains("will refuse every answer"), "\(fake.log)")

        let check = try await EndToEndWorld.runCLI(["check-config", "--online", "--config", world.configPath])
        #expect(check.status == 0, "\(check.output)")
        #expect(check.output.contains("merchant \(V3EndToEndTests.v3MchID): OK"), "\(check.output)")
        #expect(check.output.contains("merchant \(EndToEndWorld.mchA): OK"), "\(check.output)")

        fake.signal(SIGTERM)
        #expect(await fake.exitStatus(within: .seconds(30), "the fake to exit") == 0, "\(fake.log)")
        #expect(output().contains("0 with a bad signature"), "\(output())")
        try await world.shutdown()
    }
}
