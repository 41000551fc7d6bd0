import FakeWeChatPay
import Synchronization
import Testing
import WeChatPayV2

/// The fake's frequency limit: a token bucket on a clock the test moves, and the signed
/// FREQUENCY_LIMITED answer that leaves the order untouched.
@Suite struct FakeRateLimitTests {
    static let key = try! APIKey("192006250b4c09247ec02edce69f6a2d")

    @Test func theBucketAdmitsItsBurstThenItsRate() {
        var limit = FakeRateLimit(perSecond: 10, burst: 3)
        #expect((0..<5).map { _ in limit.admit(at: 100) } == [true, true, true, false, false])
        // 0.25 s at 10/s gives back 2.5 tokens: two calls.
        #expect((0..<3).map { _ in limit.admit(at: 100.25) } == [true, true, false])
        // A long quiet spell refills no more than the burst.
        #expect((0..<4).map { _ in limit.admit(at: 1_000) } == [true, true, true, false])
        // A clock that steps back adds nothing.
        #expect(limit.admit(at: 999) == false)
    }

    @Test func theDefaultBurstIsATenthOfASecondAndAtLeastOne() {
        #expect(FakeRateLimit(perSecond: 500).burst == 50)
        #expect(FakeRateLimit(perSecond: 2).burst == 1)
    }

    @Test func callsAboveTheRateAreAnsweredFrequencyLimitedAndNotActedOn() throws {
        let clock = ManualUnixClock()
        let fake = FakeWeChatPay(
            merchants: [FakeMerchant(mchID: "10000100", key: Self.key, appIDs: ["wxd930ea5d5a258f4f"])],
            now: { clock.now })
        fake.setRateLimit(perSecond: 1, burst: 1)
        for id in ["A", "B"] { fake.addOrder(mchID: "10000100", outTradeNo: id, createdAt: 1) }

        #expect(try close(fake, "A")["result_code"] == "SUCCESS")
        let limited = try close(fake, "B")
        #expect(limited["result_code"] == "FAIL")
        #expect(limited["err_code"] == "FREQUENCY_LIMITED")
        #expect(Signer.isValid(sign: limited["sign"] ?? "", for: limited, type: .md5, key: Self.key))
        #expect(fake.orderState(mchID: "10000100", outTradeNo: "B") == .notPay)
        #expect(fake.calls.last?.acted == false)
        #expect(fake.calls.last?.answer == "FREQUENCY_LIMITED")

        clock.advance(by: 1)
        #expect(try close(fake, "B")["result_code"] == "SUCCESS")
        #expect(fake.orderState(mchID: "10000100", outTradeNo: "B") == .closed)

        fake.setRateLimit(perSecond: nil)
        fake.addOrder(mchID: "10000100", outTradeNo: "C", createdAt: 1)
        #expect(try close(fake, "C")["result_code"] == "SUCCESS")
    }

    func close(_ fake: FakeWeChatPay, _ outTradeNo: String) throws -> [String: String] {
        var fields = [
            "appid": "wxd930ea5d5a258f4f", "mch_id": "10000100", "out_trade_no": outTradeNo,
            "nonce_str": Nonce.make(),
        ]
        fields["sign"] = Signer.sign(fields, type: .md5, key: Self.key)
        let answer = fake.handle(method: "POST", path: "/pay/closeorder", body: try XMLBodyEncoder.encode(fields))
        guard case .respond(200, let body) = answer.action else {
            Issue.record("no 200 answer")
            return [:]
        }
        return try StrictXMLDecoder.decode(body)
    }
}

/// Unix seconds moved by hand.
final class ManualUnixClock: Sendable {
    private let seconds = Mutex(2_000_000_000.0)
    var now: Double { seconds.withLock { $0 } }
    func advance(by delta: Double) { seconds.withLock { $0 += delta } }
}
