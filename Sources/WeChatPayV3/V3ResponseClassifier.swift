import Foundation
import GatewayVocabulary

/// Turns a v3 answer into the outcomes v2 answers already map to (`CloseOutcome`, `QueryOutcome`),
/// so the worker's decisions (`CloseDecision`) serve both APIs unchanged.
///
/// First the answer must be WeChat Pay's (`AnswerVerifier`); then its status and `{code, message}`
/// decide. Codes are the official lists for close (`…/out-trade-no/{no}/close`) and query
/// (`…/out-trade-no/{no}`), direct and partner alike. "Merchant-wide" faults pause the merchant's
/// circuit (every order would get them); "about the order" faults are that order's alone.
///
/// | answer                                                           | close outcome          | query outcome          | verified |
/// |------------------------------------------------------------------|------------------------|------------------------|----------|
/// | 429 or 5xx that does not verify (gateways answer these unsigned) | retry (HTTP n)         | retry (HTTP n)         | no       |
/// | 401 that does not verify                                         | configuration error    | configuration error    | no       |
/// | any other answer that does not verify (headers, ±5 min, serial, signature) | retry (not believed) | retry (not believed) | no |
/// | close 204 No Content (or 200)                                    | unconfirmed closed¹    | –                      | yes      |
/// | query 200 with a known trade_state, out_trade_no and ids echoed  | –                      | trade_state            | yes      |
/// | query 200 naming another order, or a trade_state without out_trade_no | –                 | retry (not believed)   | no       |
/// | query 200 not JSON, or trade_state missing or unknown            | –                      | retry (unparseable)    | yes      |
/// | error status whose body has no `code`                            | retry (HTTP n)         | retry (HTTP n)         | yes      |
/// | ORDER_CLOSED                                                     | unconfirmed already closed¹ | unknown code      | yes      |
/// | ORDER_NOT_EXIST, ORDERNOTEXIST                                   | unconfirmed not exist¹ | not exist              | yes      |
/// | SYSTEM_ERROR, BANK_ERROR                                         | retry                  | retry                  | yes      |
/// | FREQUENCY_LIMITED (429)                                          | retry (pushback)       | retry (pushback)       | yes      |
/// | SIGN_ERROR, NO_AUTH, MCH_NOT_EXISTS, APPID_MCHID_NOT_MATCH, any 401 | configuration error | configuration error    | yes      |
/// | INVALID_REQUEST (v3's catch-all)                                 | unconfirmed rejected¹  | order rejected         | yes      |
/// | PARAM_ERROR, INVALID_TRANSACTIONID, OPENID_MISMATCH              | order rejected         | order rejected         | yes      |
/// | USER_PAYING (202), TRADE_ERROR, OUT_TRADE_NO_USED, ACCOUNT_ERROR, NOT_ENOUGH, RULE_LIMIT | unknown code² | unknown code | yes |
/// | any other code with a 4xx or 2xx status                          | unknown code²          | unknown code           | yes      |
/// | any other code with 429 or 5xx                                   | retry (HTTP n)         | retry (HTTP n)         | yes      |
///
/// ¹ `CloseOutcome.unconfirmed`: an answer that would decide the order but is not bound to it, so
/// `CloseDecision` queries first (`UnconfirmedClose` tabulates what each query answer decides).
/// A 204 comes back for a fresh close, for a repeated one, and (by community reports) for an
/// order WeChat Pay never saw; an error body names no order, so a signed `ORDER_CLOSED` for one
/// order could be replayed for another of the merchant's within 300 s (issue 21).
/// ² Codes that may mean the order is paid or in another state: query, never assume.
///
/// Summaries carry the HTTP status, `code` as err_code and `message` as err_code_des.
public enum V3ResponseClassifier {
    static let configurationCodes: Set<String> = ["SIGN_ERROR", "NO_AUTH", "MCH_NOT_EXISTS", "APPID_MCHID_NOT_MATCH"]
    static let rejectionCodes: Set<String> = ["PARAM_ERROR", "INVALID_TRANSACTIONID", "OPENID_MISMATCH"]
    /// v3's catch-all refusal: the order may be paid (a missed notification), so the query decides.
    static let catchAllCode = "INVALID_REQUEST"
    static let notExistCodes: Set<String> = ["ORDER_NOT_EXIST", "ORDERNOTEXIST"]
    static let systemCodes: Set<String> = ["SYSTEM_ERROR", "BANK_ERROR"]
    /// Documented codes that may mean the order is paid or in another state (query first).
    public static let queryFirstCodes: Set<String> = [
        "USER_PAYING", "TRADE_ERROR", "OUT_TRADE_NO_USED", "ACCOUNT_ERROR", "NOT_ENOUGH", "RULE_LIMIT",
    ]

    public static func classifyClose(
        _ answer: V3Answer, request: V3Request, keys: WeChatPayKeys,
        nowSeconds: Int64
    ) -> (CloseOutcome, ResponseSummary) {
        switch believed(answer, keys: keys, nowSeconds: nowSeconds) {
        case .failure(let early): return (early.close, early.summary)
        case .success(let summary):
            if (200...299).contains(answer.status), summary.errCode == nil {
                return (.unconfirmed(.closed), summary)
            }
            switch errorMeaning(answer.status, summary) {
            case .alreadyClosed: return (.unconfirmed(.alreadyClosed), summary)
            case .notExist: return (.unconfirmed(.notExist), summary)
            case .retry(let reason): return (.retryable(reason), summary)
            case .configuration(let reason): return (.configurationError(reason), summary)
            case .rejected(let reason): return (.orderRejected(reason), summary)
            case .catchAll(let reason): return (.unconfirmed(.rejected(reason)), summary)
            case .unknown(let code): return (.unknownCode(code), summary)
            }
        }
    }

    public static func classifyQuery(
        _ answer: V3Answer, request: V3Request, keys: WeChatPayKeys,
        nowSeconds: Int64
    ) -> (QueryOutcome, ResponseSummary) {
        let summary: ResponseSummary
        switch believed(answer, keys: keys, nowSeconds: nowSeconds) {
        case .failure(let early): return (early.query, early.summary)
        case .success(let believed): summary = believed
        }
        if answer.status == 200 {
            guard let order = request.order else {
                return (.retryable(.unparseable("a query answer for a request that names no order")), summary)
            }
            return queryState(answer.body, order: order, summary: summary)
        }
        switch errorMeaning(answer.status, summary) {
        case .alreadyClosed: return (.unknownCode("ORDER_CLOSED"), summary)
        case .notExist: return (.notExist, summary)
        case .retry(let reason): return (.retryable(reason), summary)
        case .configuration(let reason): return (.configurationError(reason), summary)
        case .rejected(let reason), .catchAll(let reason): return (.orderRejected(reason), summary)
        case .unknown(let code): return (.unknownCode(code), summary)
        }
    }

    enum Meaning {
        case alreadyClosed, notExist, retry(RetryReason), configuration(SetupFault), rejected(String), catchAll(String), unknown(
            String)
    }

    /// What a verified non-success answer means (the table's code rows).
    static func errorMeaning(_ status: Int, _ summary: ResponseSummary) -> Meaning {
        let overloaded = status == 429 || status >= 500
        guard let code = summary.errCode else {
            if status == 401 { return .configuration(.signature("HTTP 401")) }
            return .retry(overloaded ? .httpStatus(status) : .unparseable("HTTP \(status) without a JSON {code, message}"))
        }
        let reason = code + (summary.errCodeDes.flatMap { $0.isEmpty ? nil : ": \($0)" } ?? "")
        switch code {
        case "ORDER_CLOSED": return .alreadyClosed
        case let code where notExistCodes.contains(code): return .notExist
        case let code where systemCodes.contains(code): return .retry(.systemError)
        case "FREQUENCY_LIMITED": return .retry(.frequencyLimited)
        case let code where configurationCodes.contains(code):
            return .configuration(SetupFault(code == "SIGN_ERROR" ? .signature : .other, reason))
        case _ where status == 401: return .configuration(.signature("HTTP 401 " + reason))
        case let code where rejectionCodes.contains(code): return .rejected(reason)
        case catchAllCode: return .catchAll(reason)
        case _ where overloaded && !queryFirstCodes.contains(code): return .retry(.httpStatus(status))
        default: return .unknown(code)
        }
    }

    /// The early end of an answer that is not believed, in both vocabularies.
    struct Early: Error {
        enum Reason { case retry(RetryReason), configuration(SetupFault) }
        let reason: Reason
        let summary: ResponseSummary

        var close: CloseOutcome {
            switch reason {
            case .retry(let r): .retryable(r)
            case .configuration(let m): .configurationError(m)
            }
        }
        var query: QueryOutcome {
            switch reason {
            case .retry(let r): .retryable(r)
            case .configuration(let m): .configurationError(m)
            }
        }
    }

    struct ErrorBody: Decodable {
        var code: String?
        var message: String?
    }

    /// Verifies the answer; on success, its summary marked verified.
    static func believed(_ answer: V3Answer, keys: WeChatPayKeys, nowSeconds: Int64) -> Result<ResponseSummary, Early> {
        var summary = ResponseSummary(httpStatus: answer.status)
        if answer.status != 200, !answer.body.isEmpty,
            let error = try? JSONDecoder().decode(ErrorBody.self, from: Data(answer.body))
        {
            summary.errCode = error.code.flatMap { $0.isEmpty ? nil : String($0.prefix(64)) }
            summary.errCodeDes = error.message.flatMap { $0.isEmpty ? nil : String($0.prefix(256)) }
        }
        do {
            try AnswerVerifier.verify(answer, keys: keys, nowSeconds: nowSeconds)
        } catch {
            if answer.status == 401 {
                let said = summary.errCode.map { " (\($0), unsigned)" } ?? " (unsigned)"
                return .failure(
                    Early(
                        reason: .configuration(
                            .signature("HTTP 401" + said + ": the merchant's request signature, serial or rights")),
                        summary: summary))
            }
            if answer.status == 429 || answer.status >= 500 {
                return .failure(Early(reason: .retry(.httpStatus(answer.status)), summary: summary))
            }
            return .failure(Early(reason: .retry(.badSignature(error.message)), summary: summary))
        }
        summary.verified = true
        return .success(summary)
    }

    struct QueryBody: Decodable {
        var mchid: String?
        var sp_mchid: String?
        var sub_mchid: String?
        var out_trade_no: String?
        var transaction_id: String?
        var trade_state: String?
    }

    static func queryState(_ body: [UInt8], order: V3OrderReference, summary: ResponseSummary) -> (QueryOutcome, ResponseSummary)
    {
        guard let fields = try? JSONDecoder().decode(QueryBody.self, from: Data(body)) else {
            return (.retryable(.unparseable("the query answer is not JSON with string fields")), summary)
        }
        var unbelieved = summary
        unbelieved.verified = false
        guard let outTradeNo = fields.out_trade_no, !outTradeNo.isEmpty else {
            return (.retryable(.badSignature("the query answer names no out_trade_no")), unbelieved)
        }
        let echoes: [(String, String?, String?)] =
            order.isPartner
            ? [
                ("out_trade_no", outTradeNo, order.outTradeNo), ("sp_mchid", fields.sp_mchid, order.mchID),
                ("sub_mchid", fields.sub_mchid, order.subMchID), ("mchid", fields.mchid, nil),
            ]
            : [
                ("out_trade_no", outTradeNo, order.outTradeNo), ("mchid", fields.mchid, order.mchID),
                ("sp_mchid", fields.sp_mchid, nil), ("sub_mchid", fields.sub_mchid, nil),
            ]
        for (name, echoed, sent) in echoes {
            guard let echoed, !echoed.isEmpty else { continue }
            guard let sent, echoed.utf8.elementsEqual(sent.utf8) else {
                return (
                    .retryable(
                        .badSignature(
                            "the answer names another order: its \(name) \(echoed.prefix(64)) is not the request's \(sent ?? "(none)")"
                        )), unbelieved
                )
            }
        }
        guard let raw = fields.trade_state, let state = TradeState(rawValue: raw) else {
            return (.retryable(.unparseable("trade_state is missing or unknown")), summary)
        }
        let transactionID = fields.transaction_id.flatMap { $0.isEmpty ? nil : $0 }
        return (.state(state, transactionID: transactionID), summary)
    }
}
