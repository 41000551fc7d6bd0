import GatewayVocabulary
import Testing

@testable import WeChatPayV2

/// Issue 10, defect 3: only an answer whose signature was checked and whose echoes matched is
/// marked verified, so that nothing unverified is ever stored as WeChat's words.
@Suite struct VerifiedSummaryTests {
    func closeSummary(_ factory: ResponseFactory, _ fields: [String: String], status: Int = 200) -> (
        CloseOutcome, ResponseSummary
    ) {
        ResponseClassifier.classifyClose(
            httpStatus: status, body: try! XMLBodyEncoder.encode(fields), order: factory.order,
            credentials: factory.credentials)
    }

    func querySummary(_ factory: ResponseFactory, _ fields: [String: String]) -> (QueryOutcome, ResponseSummary) {
        ResponseClassifier.classifyQuery(
            httpStatus: 200, body: try! XMLBodyEncoder.encode(fields), order: factory.order,
            credentials: factory.credentials)
    }

    @Test(arguments: SignType.allCases) func aForgedOrderPaidIsNotVerified(_ signType: SignType) throws {
        let factory = try ResponseFactory.make(signType)
        var forged = factory.business("FAIL", "ORDERPAID")
        forged["sign"] = String(repeating: "0", count: signType == .md5 ? 32 : 64)
        let (outcome, summary) = closeSummary(factory, forged)
        #expect(outcome != .paid)
        guard case .retryable(.badSignature) = outcome else {
            Issue.record("believed: \(outcome)")
            return
        }
        #expect(!summary.verified)
        // What it claimed is still there for the audit row, marked unverified.
        #expect(summary.errCode == "ORDERPAID" && summary.returnCode == "SUCCESS")
    }

    @Test func anUnsignedFailCarryingOrderPaidIsNotVerified() throws {
        let factory = try ResponseFactory.make()
        let (outcome, summary) = closeSummary(
            factory,
            [
                "return_code": "FAIL", "return_msg": "系统繁忙",
                "result_code": "FAIL", "err_code": "ORDERPAID",
            ])
        #expect(outcome != .paid)
        #expect(outcome.description.hasPrefix("order rejected ("))
        #expect(!summary.verified)
        #expect(summary.errCode == "ORDERPAID")
    }

    @Test func aSignedAnswerIsVerified() throws {
        let factory = try ResponseFactory.make()
        let (outcome, summary) = closeSummary(factory, factory.business("FAIL", "ORDERPAID"))
        #expect(outcome == .paid)
        #expect(summary.verified)
        #expect(querySummary(factory, factory.tradeState("NOTPAY")).1.verified)
    }

    @Test func unparseableHTTPErrorsAndMismatchedAnswersAreNotVerified() throws {
        let factory = try ResponseFactory.make()
        #expect(!closeSummary(factory, factory.business("SUCCESS"), status: 503).1.verified)
        let truncated = ResponseClassifier.classifyClose(
            httpStatus: 200, body: Array("<xml><return_code>SUC".utf8),
            order: factory.order, credentials: factory.credentials)
        #expect(!truncated.1.verified)
        #expect(
            !closeSummary(factory, factory.signed(["return_code": "SUCCESS", "result_code": "SUCCESS", "mch_id": "999"])).1
                .verified)
        let (foreign, foreignSummary) = querySummary(
            factory, factory.tradeState("SUCCESS", outTradeNo: "T-2", transactionID: "42"))
        guard case .retryable(.badSignature) = foreign else {
            Issue.record("believed: \(foreign)")
            return
        }
        #expect(!foreignSummary.verified)
        #expect(!querySummary(factory, factory.tradeState("SUCCESS", outTradeNo: .some(nil), transactionID: "42")).1.verified)
        #expect(!closeSummary(factory, ["return_code": "FAIL", "return_msg": "签名错误"]).1.verified)
    }

    @Test func tradeStatePolicyProperties() {
        #expect(TradeState.allCases.count == 8)
        #expect(TradeState.allCases.filter(\.isPaid) == [.success, .refund])
        #expect(TradeState.allCases.filter(\.isFinallyUnpaid) == [.closed, .revoked])
        #expect(TradeState.allCases.filter(\.isPaymentInProgress) == [.userPaying, .accept])
        #expect(TradeState(rawValue: "ACCEPT") == .accept)
    }
}
