/// Turns an HTTP answer into a typed outcome: decode strictly, verify, then read the codes.
///
/// | answer                                                     | close outcome           |
/// |------------------------------------------------------------|-------------------------|
/// | HTTP status other than 200                                 | retry (HTTP n)          |
/// | body not a strict flat `<xml>`                             | retry (unparseable)     |
/// | return_code FAIL (whatever else it claims)                 | configuration error     |
/// | SUCCESS with missing/bad sign or wrong appid/mch_id echo   | retry (not believed)    |
/// | result_code SUCCESS                                        | closed                  |
/// | ORDERCLOSED / ORDERNOTEXIST / ORDERPAID                    | already closed / not exist / paid |
/// | SYSTEMERROR / FREQUENCY_LIMITED                            | retry                   |
/// | SIGNERROR, REQUIRE_POST_METHOD, XML_FORMAT_ERROR, id errors| configuration error     |
/// | any other err_code                                         | unknown code            |
public enum ResponseClassifier {
    /// err_codes that mean the merchant's setup is wrong, not the order.
    static let configurationCodes: Set<String> = [
        "SIGNERROR", "REQUIRE_POST_METHOD", "XML_FORMAT_ERROR", "PARAM_ERROR", "APPID_NOT_EXIST",
        "MCHID_NOT_EXIST", "APPID_MCHID_NOT_MATCH", "LACK_PARAMS", "NOAUTH", "INVALID_REQUEST",
    ]

    public static func classifyClose(httpStatus: Int, body: [UInt8], order: OrderReference,
                                     credentials: MerchantCredentials) -> (CloseOutcome, ResponseSummary) {
        let summary: ResponseSummary
        switch believedFields(httpStatus: httpStatus, body: body, order: order, credentials: credentials) {
        case .failure(let early): return (early.close, early.summary)
        case .success(let believed): summary = believed.summary
        }
        if summary.resultCode == "SUCCESS" { return (.closed, summary) }
        guard summary.resultCode == "FAIL", let errCode = summary.errCode, !errCode.isEmpty else {
            return (.retryable(.unparseable("result_code is neither SUCCESS nor FAIL with an err_code")), summary)
        }
        switch errCode {
        case "ORDERCLOSED": return (.alreadyClosed, summary)
        case "ORDERNOTEXIST": return (.notExist, summary)
        case "ORDERPAID": return (.paid, summary)
        case "SYSTEMERROR": return (.retryable(.systemError), summary)
        case "FREQUENCY_LIMITED": return (.retryable(.frequencyLimited), summary)
        case let code where configurationCodes.contains(code):
            return (.configurationError(code + (summary.errCodeDes.map { ": \($0)" } ?? "")), summary)
        default: return (.unknownCode(errCode), summary)
        }
    }

    public static func classifyQuery(httpStatus: Int, body: [UInt8], order: OrderReference,
                                     credentials: MerchantCredentials) -> (QueryOutcome, ResponseSummary) {
        let fields: [String: String]
        let summary: ResponseSummary
        switch believedFields(httpStatus: httpStatus, body: body, order: order, credentials: credentials) {
        case .failure(let early): return (early.query, early.summary)
        case .success(let believed): (fields, summary) = believed
        }
        if summary.resultCode == "SUCCESS" {
            guard let raw = fields["trade_state"], let state = TradeState(rawValue: raw) else {
                return (.retryable(.unparseable("trade_state is missing or unknown")), summary)
            }
            let transactionID = fields["transaction_id"].flatMap { $0.isEmpty ? nil : $0 }
            return (.state(state, transactionID: transactionID), summary)
        }
        guard let errCode = summary.errCode, !errCode.isEmpty else {
            return (.retryable(.unparseable("result_code is neither SUCCESS nor FAIL with an err_code")), summary)
        }
        switch errCode {
        case "ORDERNOTEXIST": return (.notExist, summary)
        case "SYSTEMERROR": return (.retryable(.systemError), summary)
        case "FREQUENCY_LIMITED": return (.retryable(.frequencyLimited), summary)
        case let code where configurationCodes.contains(code): return (.configurationError(code), summary)
        default: return (.unknownCode(errCode), summary)
        }
    }

    /// An answer that ended before its codes were read, in both vocabularies.
    struct Early: Error {
        let reason: Reason
        let summary: ResponseSummary
        enum Reason { case retry(RetryReason), configuration(String) }

        var close: CloseOutcome {
            switch reason { case .retry(let r): .retryable(r); case .configuration(let m): .configurationError(m) }
        }
        var query: QueryOutcome {
            switch reason { case .retry(let r): .retryable(r); case .configuration(let m): .configurationError(m) }
        }
    }

    /// The decoded and verified fields, with their summary (read once, not again by each caller).
    static func believedFields(httpStatus: Int, body: [UInt8], order: OrderReference,
                               credentials: MerchantCredentials) -> Result<(fields: [String: String], summary: ResponseSummary), Early> {
        guard httpStatus == 200 else {
            return .failure(Early(reason: .retry(.httpStatus(httpStatus)), summary: ResponseSummary(httpStatus: httpStatus)))
        }
        let fields: [String: String]
        do {
            fields = try StrictXMLDecoder.decode(body)
        } catch {
            return .failure(Early(reason: .retry(.unparseable(error.message)), summary: ResponseSummary(httpStatus: httpStatus)))
        }
        let summary = ResponseSummary(httpStatus: httpStatus, fields: fields)
        switch summary.returnCode {
        case "FAIL":
            let message = summary.returnMsg.flatMap { $0.isEmpty ? nil : $0 } ?? "no return_msg"
            return .failure(Early(reason: .configuration("return_code FAIL: \(message)"), summary: summary))
        case "SUCCESS":
            do {
                try ResponseVerifier.verify(fields, for: order, credentials: credentials)
            } catch {
                return .failure(Early(reason: .retry(.badSignature(error.message)), summary: summary))
            }
            var verified = summary
            verified.verified = true
            return .success((fields, verified))
        default:
            return .failure(Early(reason: .retry(.unparseable("return_code is missing or unknown")), summary: summary))
        }
    }
}
