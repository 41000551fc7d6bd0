import GatewayVocabulary

/// Turns an HTTP answer into a typed outcome: decode strictly, verify, then read the codes.
///
/// The whole map. "Merchant-wide" faults pause the merchant (every order of it would get the
/// same); "about the order" faults are that order's alone and never pause the others (issue 10).
/// `verified` is `ResponseSummary.verified`: only verified codes may be stored as WeChat's words.
///
/// | answer                                                              | close outcome        | query outcome        | verified |
/// |---------------------------------------------------------------------|----------------------|----------------------|----------|
/// | HTTP status other than 200                                          | retry (HTTP n)       | retry (HTTP n)       | no       |
/// | body not a strict flat `<xml>`                                      | retry (unparseable)  | retry (unparseable)  | no       |
/// | return_code missing or neither SUCCESS nor FAIL                     | retry (unparseable)  | retry (unparseable)  | no       |
/// | return_code FAIL, return_msg about the signature (签名…, "sign" in any case) | configuration error | configuration error | no |
/// | return_code FAIL, any other or no return_msg (e.g. 普通商户不允许传sub_mch_id) | order rejected | order rejected | no |
/// | SUCCESS with a missing or bad sign                                  | retry (not believed) | retry (not believed) | no       |
/// | SUCCESS naming another order (appid, mch_id, out_trade_no, sub_mch_id, sub_appid echo; `ResponseVerifier`) | retry (not believed) | retry (not believed) | no |
/// | query SUCCESS with a trade_state but no out_trade_no                | –                    | retry (not believed) | no       |
/// | result_code SUCCESS                                                 | closed               | trade_state (retry (unparseable) if missing or unknown; `TradeState` tabulates all eight) | yes |
/// | result_code neither SUCCESS nor FAIL with an err_code               | retry (unparseable)  | retry (unparseable)  | yes      |
/// | ORDERCLOSED                                                         | already closed       | unknown code         | yes      |
/// | ORDERNOTEXIST                                                       | not exist            | not exist            | yes      |
/// | ORDERPAID                                                           | paid                 | unknown code         | yes      |
/// | SYSTEMERROR / FREQUENCY_LIMITED                                     | retry                | retry                | yes      |
/// | SIGNERROR, REQUIRE_POST_METHOD, XML_FORMAT_ERROR, APPID_NOT_EXIST, MCHID_NOT_EXIST, APPID_MCHID_NOT_MATCH | configuration error | configuration error | yes |
/// | PARAM_ERROR, INVALID_REQUEST, LACK_PARAMS, NOAUTH                   | order rejected       | order rejected       | yes      |
/// | any other err_code                                                  | unknown code         | unknown code         | yes      |
///
/// A configuration error or rejection names the err_code and err_code_des, or the return_msg.
public enum ResponseClassifier {
    /// err_codes that mean the merchant's setup is wrong: every order of the merchant gets them.
    static let configurationCodes: Set<String> = [
        "SIGNERROR", "REQUIRE_POST_METHOD", "XML_FORMAT_ERROR", "APPID_NOT_EXIST", "MCHID_NOT_EXIST", "APPID_MCHID_NOT_MATCH",
    ]
    /// err_codes about one order's own parameters.
    static let rejectionCodes: Set<String> = ["PARAM_ERROR", "INVALID_REQUEST", "LACK_PARAMS", "NOAUTH"]

    /// Whether a return_code FAIL's return_msg is about the signature (a wrong key or sign type),
    /// the one communication-layer fault every order of the merchant gets. In practice a wrong key
    /// comes back as "签名错误，请检查后再试".
    static func isSignatureFault(_ returnMsg: String) -> Bool {
        returnMsg.contains("签名") || returnMsg.lowercased().contains("sign")
    }

    public static func classifyClose(
        httpStatus: Int, body: [UInt8], order: OrderReference,
        credentials: MerchantCredentials
    ) -> (CloseOutcome, ResponseSummary) {
        let summary: ResponseSummary
        switch believedFields(.closeOrder, httpStatus: httpStatus, body: body, order: order, credentials: credentials) {
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
        case let code where configurationCodes.contains(code): return (.configurationError(fault(summary, code)), summary)
        case let code where rejectionCodes.contains(code): return (.orderRejected(reason(summary, code)), summary)
        default: return (.unknownCode(errCode), summary)
        }
    }

    public static func classifyQuery(
        httpStatus: Int, body: [UInt8], order: OrderReference,
        credentials: MerchantCredentials
    ) -> (QueryOutcome, ResponseSummary) {
        let fields: [String: String]
        let summary: ResponseSummary
        switch believedFields(.orderQuery, httpStatus: httpStatus, body: body, order: order, credentials: credentials) {
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
        case let code where configurationCodes.contains(code): return (.configurationError(fault(summary, code)), summary)
        case let code where rejectionCodes.contains(code): return (.orderRejected(reason(summary, code)), summary)
        default: return (.unknownCode(errCode), summary)
        }
    }

    /// An answer that ended before its codes were read, in both vocabularies.
    struct Early: Error {
        let reason: Reason
        let summary: ResponseSummary
        enum Reason { case retry(RetryReason), configuration(SetupFault), rejected(String) }

        var close: CloseOutcome {
            switch reason {
            case .retry(let r): .retryable(r)
            case .configuration(let m): .configurationError(m)
            case .rejected(let m): .orderRejected(m)
            }
        }
        var query: QueryOutcome {
            switch reason {
            case .retry(let r): .retryable(r)
            case .configuration(let m): .configurationError(m)
            case .rejected(let m): .orderRejected(m)
            }
        }
    }

    /// A configuration err_code's fault: SIGNERROR is the signature.
    static func fault(_ summary: ResponseSummary, _ code: String) -> SetupFault {
        SetupFault(code == "SIGNERROR" ? .signature : .other, reason(summary, code))
    }

    /// "CODE: err_code_des", for a configuration error or rejection.
    static func reason(_ summary: ResponseSummary, _ code: String) -> String {
        code + (summary.errCodeDes.flatMap { $0.isEmpty ? nil : ": \($0)" } ?? "")
    }

    /// The decoded and verified fields, with their summary (read once, not again by each caller).
    /// Only this path marks the summary verified.
    static func believedFields(
        _ operation: Operation, httpStatus: Int, body: [UInt8], order: OrderReference,
        credentials: MerchantCredentials
    ) -> Result<(fields: [String: String], summary: ResponseSummary), Early> {
        guard httpStatus == 200 else {
            return .failure(Early(reason: .retry(.httpStatus(httpStatus)), summary: ResponseSummary(httpStatus: httpStatus)))
        }
        let fields: [String: String]
        do {
            fields = try StrictXMLDecoder.decode(body)
        } catch {
            return .failure(Early(reason: .retry(.unparseable(error.message)), summary: ResponseSummary(httpStatus: httpStatus)))
        }
        var summary = ResponseSummary(httpStatus: httpStatus, fields: fields)
        switch summary.returnCode {
        case "FAIL":
            let message = summary.returnMsg.flatMap { $0.isEmpty ? nil : $0 }
            let reason = "return_code FAIL: \(message ?? "no return_msg")"
            let merchantWide = message.map(isSignatureFault) ?? false
            return .failure(
                Early(reason: merchantWide ? .configuration(.signature(reason)) : .rejected(reason), summary: summary))
        case "SUCCESS":
            do {
                try ResponseVerifier.verify(fields, for: order, credentials: credentials, operation: operation)
            } catch {
                return .failure(Early(reason: .retry(.badSignature(error.message)), summary: summary))
            }
            summary.verified = true
            return .success((fields, summary))
        default:
            return .failure(Early(reason: .retry(.unparseable("return_code is missing or unknown")), summary: summary))
        }
    }
}
