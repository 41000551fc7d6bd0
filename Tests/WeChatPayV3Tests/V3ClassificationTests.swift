import Foundation
import GatewayVocabulary
import Testing
import WeChatPayV2

@testable import WeChatPayV3

@Suite struct V3ClassificationTests {
    typealias K = V3TestKeys
    static let close = V3Request.close(K.direct)
    static let query = V3Request.query(K.direct)

    static func classifyClose(_ answer: V3Answer, keys: WeChatPayKeys = K.keys) -> (CloseOutcome, ResponseSummary) {
        V3ResponseClassifier.classifyClose(answer, request: close, keys: keys, nowSeconds: K.now)
    }

    static func classifyQuery(_ answer: V3Answer, request: V3Request = query) -> (QueryOutcome, ResponseSummary) {
        V3ResponseClassifier.classifyQuery(answer, request: request, keys: K.keys, nowSeconds: K.now)
    }

    /// Every documented code for close and query, with its status, and what each API call reads it as.
    static let codes: [(status: Int, code: String, close: CloseOutcome, query: QueryOutcome)] = [
        (202, "USER_PAYING", .unknownCode("USER_PAYING"), .unknownCode("USER_PAYING")),
        (
            400, "APPID_MCHID_NOT_MATCH", .configurationError("APPID_MCHID_NOT_MATCH: 描述"),
            .configurationError("APPID_MCHID_NOT_MATCH: 描述")
        ),
        (400, "INVALID_REQUEST", .unconfirmed(.rejected("INVALID_REQUEST: 描述")), .orderRejected("INVALID_REQUEST: 描述")),
        (400, "MCH_NOT_EXISTS", .configurationError("MCH_NOT_EXISTS: 描述"), .configurationError("MCH_NOT_EXISTS: 描述")),
        (400, "ORDER_CLOSED", .unconfirmed(.alreadyClosed), .unknownCode("ORDER_CLOSED")),
        (400, "PARAM_ERROR", .orderRejected("PARAM_ERROR: 描述"), .orderRejected("PARAM_ERROR: 描述")),
        (401, "SIGN_ERROR", .configurationError(.signature("SIGN_ERROR: 描述")), .configurationError(.signature("SIGN_ERROR: 描述"))),
        (403, "ACCOUNT_ERROR", .unknownCode("ACCOUNT_ERROR"), .unknownCode("ACCOUNT_ERROR")),
        (403, "NO_AUTH", .configurationError("NO_AUTH: 描述"), .configurationError("NO_AUTH: 描述")),
        (403, "NOT_ENOUGH", .unknownCode("NOT_ENOUGH"), .unknownCode("NOT_ENOUGH")),
        (403, "OUT_TRADE_NO_USED", .unknownCode("OUT_TRADE_NO_USED"), .unknownCode("OUT_TRADE_NO_USED")),
        (403, "RULE_LIMIT", .unknownCode("RULE_LIMIT"), .unknownCode("RULE_LIMIT")),
        (403, "TRADE_ERROR", .unknownCode("TRADE_ERROR"), .unknownCode("TRADE_ERROR")),
        (404, "ORDER_NOT_EXIST", .unconfirmed(.notExist), .notExist),
        (404, "ORDERNOTEXIST", .unconfirmed(.notExist), .notExist),
        (429, "FREQUENCY_LIMITED", .retryable(.frequencyLimited), .retryable(.frequencyLimited)),
        (500, "BANK_ERROR", .retryable(.systemError), .retryable(.systemError)),
        (500, "INVALID_TRANSACTIONID", .orderRejected("INVALID_TRANSACTIONID: 描述"), .orderRejected("INVALID_TRANSACTIONID: 描述")),
        (500, "OPENID_MISMATCH", .orderRejected("OPENID_MISMATCH: 描述"), .orderRejected("OPENID_MISMATCH: 描述")),
        (500, "SYSTEM_ERROR", .retryable(.systemError), .retryable(.systemError)),
        // Codes not in the lists: 4xx queries first, 5xx and 429 retry, 401 is the merchant's setup.
        (400, "SOMETHING_NEW", .unknownCode("SOMETHING_NEW"), .unknownCode("SOMETHING_NEW")),
        (503, "SOMETHING_NEW", .retryable(.httpStatus(503)), .retryable(.httpStatus(503))),
        (429, "SOMETHING_NEW", .retryable(.httpStatus(429)), .retryable(.httpStatus(429))),
        (
            401, "SOMETHING_NEW", .configurationError(.signature("HTTP 401 SOMETHING_NEW: 描述")),
            .configurationError(.signature("HTTP 401 SOMETHING_NEW: 描述"))
        ),
    ]

    @Test(arguments: 0..<codes.count)
    func everySignedCodeHasItsOutcome(_ index: Int) {
        let row = Self.codes[index]
        let answer = K.signed(status: row.status, body: K.error(row.code))
        let (close, closeSummary) = Self.classifyClose(answer)
        #expect(close == row.close, "close \(row.status) \(row.code)")
        #expect(
            closeSummary.verified && closeSummary.errCode == row.code && closeSummary.errCodeDes == "描述"
                && closeSummary.httpStatus == row.status)
        let (query, querySummary) = Self.classifyQuery(answer)
        #expect(query == row.query, "query \(row.status) \(row.code)")
        #expect(querySummary.verified)
    }

    @Test func aSignedCloseNoContentIsDecidedByAQuery() {
        let (outcome, summary) = Self.classifyClose(K.signed(status: 204, body: ""))
        #expect(outcome == .unconfirmed(.closed))
        #expect(summary.verified && summary.httpStatus == 204 && summary.errCode == nil)
    }

    @Test func unsignedAnswersNeverDecideAnOrder() {
        // A 204 or an ORDER_CLOSED without a signature is not believed.
        #expect(Self.classifyClose(K.unsigned(status: 204, body: "")).0.isNotBelieved)
        #expect(Self.classifyClose(K.unsigned(status: 400, body: K.error("ORDER_CLOSED"))).0.isNotBelieved)
        let (stale, staleSummary) = Self.classifyClose(K.signed(status: 204, body: "", timestamp: K.now - 600))
        #expect(stale.isNotBelieved && !staleSummary.verified)
        #expect(Self.classifyClose(K.signed(status: 204, body: "", serial: "PUB_KEY_ID_OTHER")).0.isNotBelieved)
        #expect(Self.classifyClose(K.signed(status: 204, body: "", key: K.stranger)).0.isNotBelieved)
        let paid = K.signed(
            status: 200,
            body: "{\"mchid\":\"1900000109\",\"out_trade_no\":\"1217752501201407033233368018\",\"trade_state\":\"SUCCESS\"}",
            key: K.stranger)
        #expect(
            Self.classifyQuery(paid).0
                == .retryable(.badSignature("the answer's Wechatpay-Signature does not verify with \(K.publicKeyID)")))
    }

    @Test func anUnsigned401PausesTheMerchantButIsNotBelievedAsWeChatsWord() {
        let (outcome, summary) = Self.classifyClose(K.unsigned(status: 401, body: K.error("SIGN_ERROR")))
        guard case .configurationError(let reason) = outcome else {
            Issue.record("got \(outcome)")
            return
        }
        #expect(reason.kind == .signature && reason.reason.contains("SIGN_ERROR") && reason.reason.contains("unsigned"))
        #expect(!summary.verified && summary.errCode == "SIGN_ERROR")
    }

    @Test(arguments: [429, 500, 502, 503])
    func unsignedOverloadRetriesOnItsStatus(_ status: Int) {
        #expect(Self.classifyClose(K.unsigned(status: status, body: "<html>busy</html>")).0 == .retryable(.httpStatus(status)))
        #expect(Self.classifyQuery(K.unsigned(status: status, body: "")).0 == .retryable(.httpStatus(status)))
    }

    @Test func aSignedErrorWithoutACodeRetries() {
        #expect(
            Self.classifyClose(K.signed(status: 400, body: "not json")).0
                == .retryable(.unparseable("HTTP 400 without a JSON {code, message}")))
        #expect(Self.classifyClose(K.signed(status: 500, body: "")).0 == .retryable(.httpStatus(500)))
    }

    @Test(arguments: TradeState.allCases)
    func everyTradeStateIsRead(_ state: TradeState) {
        let body =
            "{\"appid\":\"wxd678efh567hg6787\",\"mchid\":\"1900000109\",\"out_trade_no\":\"1217752501201407033233368018\",\"transaction_id\":\"4200000001\",\"trade_state\":\"\(state.rawValue)\",\"amount\":{\"total\":100}}"
        let (outcome, summary) = Self.classifyQuery(K.signed(status: 200, body: body))
        #expect(outcome == .state(state, transactionID: "4200000001"))
        #expect(summary.verified)
    }

    @Test func aPartnerQueryEchoesTheSubMerchant() {
        let request = V3Request.query(K.partner)
        let right =
            "{\"sp_mchid\":\"1900000109\",\"sub_mchid\":\"1900000110\",\"out_trade_no\":\"1217752501201407033233368018\",\"trade_state\":\"NOTPAY\"}"
        #expect(Self.classifyQuery(K.signed(status: 200, body: right), request: request).0 == .state(.notPay, transactionID: nil))
        let wrong = right.replacingOccurrences(of: "1900000110", with: "1900000111")
        let (outcome, summary) = Self.classifyQuery(K.signed(status: 200, body: wrong), request: request)
        #expect(outcome.isNotBelieved && !summary.verified)
    }

    @Test func aQueryAnswerAboutAnotherOrderIsNotBelieved() {
        let other = "{\"mchid\":\"1900000109\",\"out_trade_no\":\"OTHER_ORDER_1\",\"trade_state\":\"CLOSED\"}"
        #expect(Self.classifyQuery(K.signed(status: 200, body: other)).0.isNotBelieved)
        let otherMerchant =
            "{\"mchid\":\"1900000999\",\"out_trade_no\":\"1217752501201407033233368018\",\"trade_state\":\"CLOSED\"}"
        #expect(Self.classifyQuery(K.signed(status: 200, body: otherMerchant)).0.isNotBelieved)
        let nameless = "{\"mchid\":\"1900000109\",\"trade_state\":\"SUCCESS\"}"
        #expect(Self.classifyQuery(K.signed(status: 200, body: nameless)).0.isNotBelieved)
        let direct =
            "{\"sub_mchid\":\"1900000110\",\"mchid\":\"1900000109\",\"out_trade_no\":\"1217752501201407033233368018\",\"trade_state\":\"CLOSED\"}"
        #expect(Self.classifyQuery(K.signed(status: 200, body: direct)).0.isNotBelieved)
    }

    @Test func anUnknownOrMissingTradeStateRetries() {
        let unknown = "{\"mchid\":\"1900000109\",\"out_trade_no\":\"1217752501201407033233368018\",\"trade_state\":\"WHATEVER\"}"
        #expect(
            Self.classifyQuery(K.signed(status: 200, body: unknown)).0
                == .retryable(.unparseable("trade_state is missing or unknown")))
        #expect(
            Self.classifyQuery(K.signed(status: 200, body: "[1,2]")).0
                == .retryable(.unparseable("the query answer is not JSON with string fields")))
    }
}

extension CloseOutcome {
    var isNotBelieved: Bool {
        if case .retryable(.badSignature) = self { return true }
        return false
    }
}

extension QueryOutcome {
    var isNotBelieved: Bool {
        if case .retryable(.badSignature) = self { return true }
        return false
    }
}
