import FakeWeChatPay
import OrderClosing
import Testing
import WeChatPayV2
import WeChatPayV3

/// Issue 21: a v3 answer that names no order decides nothing by itself. An error body carries no
/// out_trade_no and an answer is tied to its request only by its signature and timestamp, so a
/// signed `ORDER_CLOSED` for one order could be replayed for another of the same merchant within
/// its 300 s. A 204, `ORDER_CLOSED`, `ORDER_NOT_EXIST` and `INVALID_REQUEST` are therefore all
/// confirmed by a query (whose answer echoes the order) before the order is decided.
@Suite struct V3AnswerTrustTests {
    static let nowSeconds: Int64 = 1_800_000_306
    static let publicKeyID = "PUB_KEY_ID_0114232134912410000000000000"
    static let keys = try! WeChatPayKeys(publicKeyID: publicKeyID, key: FakeV3Keys.weChatPay.publicKey)
    static let reference = try! V3OrderReference(mchID: "1900000300", outTradeNo: "PAID_ORDER_1")
    static let order = ClaimedOrder(
        id: 1, mchID: "1900000300", appID: "wx2421b1c4370ec43b", outTradeNo: "PAID_ORDER_1",
        subMchID: nil, subAppID: nil, createdAt: 1_800_000_000, timeoutSeconds: 0, attempt: 1,
        inDoubt: false, firstAttemptAt: 1_800_000_305_000, leaseToken: "t")
    static let transactionID = "4200000000000000000000000001"

    /// An answer signed by WeChat Pay's key, as a replaying attacker would hold one.
    static func signed(_ status: Int, _ body: String) -> V3Answer {
        let bytes = Array(body.utf8)
        let nonce = "c5ac7061fccab6bf3e254dcf98995b8c"
        let signature = try! FakeV3Keys.weChatPay.sign(
            SigningMessage.answer(timestamp: String(nowSeconds), nonce: nonce, body: bytes))
        return V3Answer(
            status: status, timestamp: String(nowSeconds), nonce: nonce, signature: signature, serial: publicKeyID, body: bytes)
    }

    static func queryAnswer(_ state: String) -> QueryOutcome {
        let body =
            "{\"mchid\":\"1900000300\",\"out_trade_no\":\"PAID_ORDER_1\",\"trade_state\":\"\(state)\",\"transaction_id\":\"\(transactionID)\"}"
        return V3ResponseClassifier.classifyQuery(
            signed(200, body), request: .query(reference), keys: keys, nowSeconds: nowSeconds
        ).0
    }

    static let unboundAnswers: [(Int, String)] = [
        (204, ""),
        (400, "{\"code\":\"ORDER_CLOSED\",\"message\":\"订单已关闭\"}"),
        (404, "{\"code\":\"ORDER_NOT_EXIST\",\"message\":\"订单不存在\"}"),
        (404, "{\"code\":\"ORDERNOTEXIST\",\"message\":\"订单不存在\"}"),
        (400, "{\"code\":\"INVALID_REQUEST\",\"message\":\"无效请求\"}"),
    ]

    /// The reproduction: an order WeChat's query reports paid, whose close was answered with a
    /// validly signed answer that names no order, ends `paid` with its transaction_id.
    @Test(arguments: unboundAnswers)
    func aPaidOrderAnsweredBySuchAnAnswerEndsPaidAfterTheQuery(_ status: Int, _ body: String) {
        let (outcome, summary) = V3ResponseClassifier.classifyClose(
            Self.signed(status, body), request: .close(Self.reference),
            keys: Self.keys, nowSeconds: Self.nowSeconds)
        #expect(summary.verified, "the answer is WeChat Pay's, signed and fresh")
        let next = CloseDecision.afterClose(
            Self.order, outcome: outcome, delivered: true, now: Self.nowSeconds * 1000,
            retry: RetryPolicy(), jitterUnit: 0.5)
        guard case .query(let because) = next else {
            Issue.record("HTTP \(status) \(body) decided the order without a query: \(next)")
            return
        }
        let change = CloseDecision.afterQuery(
            Self.order, because: because, query: Self.queryAnswer("SUCCESS"),
            now: Self.nowSeconds * 1000, retry: RetryPolicy(), jitterUnit: 0.5)
        guard case .finish(.paid, "paid"?, Self.transactionID?, _) = change else {
            Issue.record("HTTP \(status) \(body), then a query saying SUCCESS: \(change)")
            return
        }
    }

    /// What the query says settles it: a closed order is closed, an open one is closed again (the
    /// answer was not about it), and an order WeChat still refuses fails only after its retries.
    @Test(arguments: unboundAnswers)
    func theQueryDecidesEveryOtherState(_ status: Int, _ body: String) {
        let outcome = V3ResponseClassifier.classifyClose(
            Self.signed(status, body), request: .close(Self.reference),
            keys: Self.keys, nowSeconds: Self.nowSeconds
        ).0
        guard
            case .query(let because) = CloseDecision.afterClose(
                Self.order, outcome: outcome, delivered: true,
                now: Self.nowSeconds * 1000, retry: RetryPolicy(), jitterUnit: 0.5)
        else {
            Issue.record("HTTP \(status) \(body) decided the order without a query")
            return
        }
        func after(_ state: String) -> OrderChange {
            CloseDecision.afterQuery(
                Self.order, because: because, query: Self.queryAnswer(state), now: Self.nowSeconds * 1000,
                retry: RetryPolicy(), jitterUnit: 0.5)
        }
        guard case .finish(.closed, let word?, nil, nil) = after("CLOSED") else {
            Issue.record("CLOSED: \(after("CLOSED"))")
            return
        }
        #expect(word == (status == 204 ? "closed" : "already_closed"))
        for state in ["NOTPAY", "PAYERROR", "USERPAYING", "ACCEPT"] {
            guard case .retry(_, let reason, _, false) = after(state) else {
                Issue.record("\(state): \(after(state))")
                continue
            }
            #expect(!reason.contains("CLOSE_204"), "\(reason)")
            if body.contains("INVALID_REQUEST") { #expect(reason.contains("INVALID_REQUEST"), "\(reason)") }
        }
    }
}
