import FakeWeChatPay
import Foundation
import Testing
import WeChatPayV2

/// `check-config --online` (issue 12) against the fake over loopback: a made-up order per merchant.
@Suite struct OnlineCheckTests {
    @Test func provesEachKeyAndNamesTheOneWeChatRefuses() async throws {
        let world = try await EndToEndWorld.start()
        let good = try await CLIHarness.run(["check-config", "--online", "--config", world.configPath])
        #expect(good.status == 0, "\(good.output)")
        #expect(good.output.contains("merchant \(EndToEndWorld.mchA): OK: key works"), "\(good.output)")
        #expect(good.output.contains("answered ORDERNOTEXIST for a made-up order"))
        #expect(world.fake.calls.allSatisfy { $0.path.hasSuffix("orderquery") }, "the online check must never close anything")

        // B's key file now holds another (well-formed) key: WeChat refuses the signature.
        let keyB = world.directory.appendingPathComponent("\(EndToEndWorld.mchB).key")
        try (Nonce.make() + "\n").write(to: keyB, atomically: true, encoding: .utf8)
        let bad = try await CLIHarness.run(["check-config", "--online", "--config", world.configPath])
        #expect(bad.status == 1, "\(bad.output)")
        #expect(bad.output.contains("merchant \(EndToEndWorld.mchB): FAILED: the key or sign type is wrong"), "\(bad.output)")
        #expect(bad.output.contains("merchant \(EndToEndWorld.mchA): OK"))
        #expect(!bad.output.contains(world.keys[EndToEndWorld.mchA]!), "a key was printed")
        try await world.shutdown()
    }
}
