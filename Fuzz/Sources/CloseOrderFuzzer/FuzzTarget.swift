// libFuzzer entry point for the WeChat Pay v2 protocol core.
//
// Every input is one HTTP body as WeChat might send it. For each input the harness checks:
//
// 1. StrictXMLDecoder.decode never traps, and what it accepts is a flat map whose names are
//    non-empty and made only of the bytes the decoder allows in a name.
// 2. Round trip: when every name is a plain XML name, XMLBodyEncoder.encode succeeds and
//    decode(encode(x)) == x, byte for byte (not just Unicode-canonically), and encoding is a
//    fixed point (encode(decode(encode(x))) == encode(x)). When some name is not plain, encode throws.
// 3. The String overload of decode agrees with the bytes overload on valid UTF-8.
// 4. ResponseClassifier.classifyClose / classifyQuery, for both sign types:
//    - a non-200 status is always retry(HTTP n);
//    - a body whose decode throws is always retry(unparseable) with an empty summary;
//    - a body whose return_code is not "SUCCESS" never classifies as closed, already closed,
//      not exist or paid (nor as a query trade_state): FAIL is a configuration error when its
//      return_msg is about the signature and an order rejection otherwise, anything else
//      retry(unparseable);
//    - return_code SUCCESS that ResponseVerifier refuses is retry(not believed);
//    - any terminal outcome (closed/alreadyClosed/notExist/paid/state) implies the sign checks out
//      under that very sign type, and the echoed ids (appid, mch_id, out_trade_no, sub_mch_id)
//      match the order; a query trade_state also needs the out_trade_no echo;
//    - believed answers follow the table in ResponseClassifier's documentation;
//    - the summary repeats the decoded codes, and is `verified` exactly when the answer is believed.
// 5. Re-signed variant (structure-aware, so the fuzzer reaches the "believed" paths without
//    guessing an MD5): the decoded fields are signed with the right key, re-encoded and classified;
//    the outcome must then follow the table exactly, and the same body checked with the other sign
//    type must never be believed.
//
// A violated invariant calls fatalError, which libFuzzer reports as a crash and saves the input.

import GatewayVocabulary
import WeChatPayV2

#if canImport(Glibc)
import Glibc
#endif

/// With CLOSEORDER_FUZZ_VERBOSE=1 the harness prints what it saw (to reproduce a crash by hand:
/// `CLOSEORDER_FUZZ_VERBOSE=1 .build-fuzz/release/CloseOrderFuzzer crash-…`).
private let verbose = getenv("CLOSEORDER_FUZZ_VERBOSE").map { String(cString: $0) == "1" } ?? false

private let order = try! OrderReference(appID: "wxd930ea5d5a258f4f", mchID: "10000100", outTradeNo: "1415757673")
/// A service-provider order, so the sub-merchant echoes are checked in both directions.
private let subOrder = try! OrderReference(appID: "wxd930ea5d5a258f4f", mchID: "10000100", outTradeNo: "1415757673",
                                           subMchID: "1900000109", subAppID: "wx2421b1c4370ec43b")
private let apiKey = try! APIKey("192006250b4c09247ec02edce69f6a2d")
private let allCredentials = SignType.allCases.map { MerchantCredentials(mchID: "10000100", signType: $0, key: apiKey) }

/// err_codes the classifier's table calls a configuration error (ResponseClassifier's doc comment).
private let configurationCodes: Set<String> = [
    "SIGNERROR", "REQUIRE_POST_METHOD", "XML_FORMAT_ERROR", "APPID_NOT_EXIST", "MCHID_NOT_EXIST", "APPID_MCHID_NOT_MATCH",
]
/// err_codes the table calls a rejection of the one order.
private let rejectionCodes: Set<String> = ["PARAM_ERROR", "INVALID_REQUEST", "LACK_PARAMS", "NOAUTH"]

/// The table's reading of a return_code FAIL: merchant-wide only when the message is about the signature.
private func failIsMerchantWide(_ fields: [String: String]) -> Bool {
    guard let message = fields["return_msg"], !message.isEmpty else { return false }
    return message.contains("签名") || message.lowercased().contains("sign")
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let body = Array(UnsafeBufferPointer(start: data, count: size))
    let decoded: [String: String]?
    do {
        decoded = try StrictXMLDecoder.decode(body)
    } catch {
        check(error.isMalformedXML, "decode threw a non-XML error: \(error)", body)
        decoded = nil
    }

    if let decoded {
        checkDecoded(decoded, body)
        checkRoundTrip(decoded, body)
    }
    checkStringOverload(decoded, body)

    if verbose {
        print("decoded: \(decoded.map { $0.sorted { $0.key < $1.key }.description } ?? "refused")")
        for credentials in allCredentials {
            let close = ResponseClassifier.classifyClose(httpStatus: 200, body: body, order: order, credentials: credentials).0
            let query = ResponseClassifier.classifyQuery(httpStatus: 200, body: body, order: order, credentials: credentials).0
            print("[\(credentials.signType.rawValue)] close: \(close); query: \(query)")
        }
    }
    for credentials in allCredentials {
        checkClose(body, decoded, credentials)
        checkQuery(body, decoded, credentials)
    }
    if let decoded { checkResigned(decoded, body) }
    return 0
}

// MARK: - Decoder and encoder

private func isNameByte(_ byte: UInt8) -> Bool {
    (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39)
        || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")
}

/// `[A-Za-z_][A-Za-z0-9_]*`: what XMLBodyEncoder promises to encode.
private func isPlainName(_ name: String) -> Bool {
    func start(_ b: UInt8) -> Bool { (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x5F }
    guard let first = name.utf8.first, start(first) else { return false }
    return name.utf8.allSatisfy { start($0) || ($0 >= 0x30 && $0 <= 0x39) }
}

private func checkDecoded(_ fields: [String: String], _ body: [UInt8]) {
    for (name, value) in fields {
        check(!name.isEmpty && name.utf8.allSatisfy(isNameByte), "decoded a field with a bad name \(name.debugDescription)", body)
        // A value that came out of the decoder is valid UTF-8 by construction; it must also hold
        // no NUL from a numeric reference (&#0; is refused).
        check(!value.utf8.contains(0) || body.contains(0), "decoded a NUL that is not in the body", body)
    }
}

/// Field maps compared by their UTF-8 bytes: String == is canonical equivalence, which is weaker.
private func sameBytes(_ a: [String: String], _ b: [String: String]) -> Bool {
    func flat(_ m: [String: String]) -> [[UInt8]] {
        m.map { Array($0.key.utf8) + [0] + Array($0.value.utf8) }.sorted { $0.lexicographicallyPrecedes($1) }
    }
    return a.count == b.count && flat(a) == flat(b)
}

private func checkRoundTrip(_ fields: [String: String], _ body: [UInt8]) {
    let plain = fields.keys.allSatisfy(isPlainName)
    let encoded: [UInt8]
    do {
        encoded = try XMLBodyEncoder.encode(fields)
    } catch {
        check(!plain, "encode refused plain names: \(error)", body)
        return
    }
    check(plain, "encode accepted a name that is not plain", body)
    let again: [String: String]
    do {
        again = try StrictXMLDecoder.decode(encoded)
    } catch {
        fail("decode(encode(x)) threw: \(error)\nencoded: \(String(decoding: encoded, as: UTF8.self).debugDescription)", body)
    }
    check(again == fields, "decode(encode(x)) != x", body)
    check(sameBytes(again, fields), "decode(encode(x)) differs from x in its bytes", body)
    let reencoded = try? XMLBodyEncoder.encode(again)
    check(reencoded == encoded, "encode is not a fixed point of decode∘encode", body)
}

private func checkStringOverload(_ decoded: [String: String]?, _ body: [UInt8]) {
    guard let text = String(validating: body, as: UTF8.self) else { return }
    let viaString = try? StrictXMLDecoder.decode(text)
    switch (decoded, viaString) {
    case (nil, nil): break
    case let (a?, b?): check(sameBytes(a, b), "decode(String) and decode(bytes) disagree", body)
    default: fail("decode(String) and decode(bytes) disagree on acceptance", body)
    }
}

// MARK: - Classifier

private func isTerminal(_ outcome: CloseOutcome) -> Bool {
    switch outcome {
    case .closed, .alreadyClosed, .notExist, .paid: true
    case .retryable, .configurationError, .orderRejected, .unknownCode, .unconfirmed: false
    }
}

/// Our own reading of ResponseVerifier's contract, for a return_code=SUCCESS answer.
private func believable(_ fields: [String: String], _ credentials: MerchantCredentials, about asked: OrderReference = order,
                        query: Bool = false) -> Bool {
    guard fields["return_code"] == "SUCCESS", let sign = fields["sign"], !sign.isEmpty else { return false }
    guard Signer.isValid(sign: sign, for: fields, type: credentials.signType, key: credentials.key) else { return false }
    // Compare bytes, not canonical equivalence: an echo must be the request's id exactly.
    func echoes(_ name: String, _ sent: String?) -> Bool {
        guard let echoed = fields[name], !echoed.isEmpty else { return true }
        guard let sent else { return false }
        return echoed.utf8.elementsEqual(sent.utf8)
    }
    guard echoes("appid", asked.appID), echoes("mch_id", asked.mchID), echoes("out_trade_no", asked.outTradeNo),
          echoes("sub_mch_id", asked.subMchID) else { return false }
    if asked.subAppID != nil, !echoes("sub_appid", asked.subAppID) { return false }
    if query, let state = fields["trade_state"], !state.isEmpty, (fields["out_trade_no"] ?? "").isEmpty { return false }
    return true
}

/// What the close table says for a believed answer.
private func expectedBelievedClose(_ fields: [String: String]) -> CloseOutcome {
    if fields["result_code"] == "SUCCESS" { return .closed }
    guard fields["result_code"] == "FAIL", let errCode = fields["err_code"], !errCode.isEmpty else {
        return .retryable(.unparseable(""))
    }
    switch errCode {
    case "ORDERCLOSED": return .alreadyClosed
    case "ORDERNOTEXIST": return .notExist
    case "ORDERPAID": return .paid
    case "SYSTEMERROR": return .retryable(.systemError)
    case "FREQUENCY_LIMITED": return .retryable(.frequencyLimited)
    case let code where configurationCodes.contains(code): return .configurationError(SetupFault(.other, code))
    case let code where rejectionCodes.contains(code): return .orderRejected(code)
    default: return .unknownCode(errCode)
    }
}

/// One message the other's code, or the code followed by its words.
private func sameMessage(_ x: String, _ y: String) -> Bool {
    x == y || x.hasPrefix(y + ": ") || y.hasPrefix(x + ": ")
}

/// Outcomes equal up to free-text messages (and, for a setup fault, up to its kind).
private func sameShape(_ a: CloseOutcome, _ b: CloseOutcome) -> Bool {
    switch (a, b) {
    case (.retryable(.unparseable), .retryable(.unparseable)),
         (.retryable(.badSignature), .retryable(.badSignature)):
        return true
    case let (.configurationError(x), .configurationError(y)):
        return sameMessage(x.reason, y.reason)
    case let (.orderRejected(x), .orderRejected(y)):
        return sameMessage(x, y)
    default:
        return a == b
    }
}

private func checkSummary(_ summary: ResponseSummary, _ fields: [String: String]?, _ status: Int, _ body: [UInt8],
                          believed: Bool) {
    check(summary.httpStatus == status, "summary.httpStatus \(String(describing: summary.httpStatus)) != \(status)", body)
    guard let fields else {
        check(summary == ResponseSummary(httpStatus: status), "unparseable answer has codes in its summary", body)
        return
    }
    check(summary.returnCode == fields["return_code"] && summary.returnMsg == fields["return_msg"]
          && summary.resultCode == fields["result_code"] && summary.errCode == fields["err_code"]
          && summary.errCodeDes == fields["err_code_des"], "summary does not repeat the decoded codes", body)
    check(summary.verified == believed, "summary.verified is \(summary.verified), the answer is \(believed ? "" : "not ")believable", body)
}

private func checkClose(_ body: [UInt8], _ decoded: [String: String]?, _ credentials: MerchantCredentials) {
    // Any status but 200 is retried, whatever the body.
    let (httpOutcome, httpSummary) = ResponseClassifier.classifyClose(httpStatus: 503, body: body, order: order, credentials: credentials)
    check(httpOutcome == .retryable(.httpStatus(503)) && httpSummary == ResponseSummary(httpStatus: 503),
          "HTTP 503 classified as \(httpOutcome)", body)

    let (outcome, summary) = ResponseClassifier.classifyClose(httpStatus: 200, body: body, order: order, credentials: credentials)
    _ = outcome.description   // must not trap either
    checkSummary(summary, decoded, 200, body, believed: decoded.map { believable($0, credentials) } ?? false)
    let context = "[\(credentials.signType.rawValue)] close outcome \(outcome)"

    guard let fields = decoded else {
        guard case .retryable(.unparseable) = outcome else { fail("\(context) for a body that does not decode", body) }
        return
    }
    let returnCode = fields["return_code"]
    if isTerminal(outcome) {
        check(returnCode == "SUCCESS", "\(context) but return_code is \(returnCode.debugDescription)", body)
        check(believable(fields, credentials), "\(context) for an answer whose sign or echo does not check out", body)
    }
    switch returnCode {
    case "FAIL":
        switch outcome {
        case .configurationError(let fault) where failIsMerchantWide(fields) && fault.reason.hasPrefix("return_code FAIL"): break
        case .orderRejected(let message) where !failIsMerchantWide(fields) && message.hasPrefix("return_code FAIL"): break
        default: fail("\(context) for return_code FAIL", body)
        }
    case "SUCCESS":
        var verified = true
        do { try ResponseVerifier.verify(fields, for: order, credentials: credentials) } catch {
            check(error.isVerificationFailure, "verify threw a non-verification error: \(error)", body)
            verified = false
        }
        check(verified == believable(fields, credentials), "[\(credentials.signType.rawValue)] verify says \(verified), the contract says otherwise", body)
        if verified {
            check(sameShape(outcome, expectedBelievedClose(fields)), "\(context), the table says \(expectedBelievedClose(fields))", body)
        } else {
            guard case .retryable(.badSignature) = outcome else { fail("\(context) for an answer verify refuses", body) }
        }
    default:
        guard case .retryable(.unparseable) = outcome else { fail("\(context) for return_code \(returnCode.debugDescription)", body) }
        do {
            try ResponseVerifier.verify(fields, for: order, credentials: credentials)
            check(returnCode != nil, "verify accepted an answer without return_code", body)
        } catch {
            check(error.isVerificationFailure, "verify threw a non-verification error: \(error)", body)
        }
    }
}

private func checkQuery(_ body: [UInt8], _ decoded: [String: String]?, _ credentials: MerchantCredentials) {
    let (outcome, summary) = ResponseClassifier.classifyQuery(httpStatus: 200, body: body, order: order, credentials: credentials)
    _ = outcome.description
    checkSummary(summary, decoded, 200, body, believed: decoded.map { believable($0, credentials, query: true) } ?? false)
    let context = "[\(credentials.signType.rawValue)] query outcome \(outcome)"
    guard let fields = decoded else {
        guard case .retryable(.unparseable) = outcome else { fail("\(context) for a body that does not decode", body) }
        return
    }
    switch outcome {
    case .state(let state, let transactionID):
        check(fields["return_code"] == "SUCCESS" && fields["result_code"] == "SUCCESS", "\(context) without SUCCESS codes", body)
        check(believable(fields, credentials, query: true), "\(context) for an answer whose sign or echo does not check out", body)
        check(fields["trade_state"] == state.rawValue, "\(context) but trade_state is \(fields["trade_state"].debugDescription)", body)
        check(transactionID == nil || transactionID == fields["transaction_id"], "\(context) invents a transaction_id", body)
    case .notExist:
        check(fields["return_code"] == "SUCCESS" && believable(fields, credentials, query: true), "\(context) for an unbelieved answer", body)
    default:
        break
    }
}

// MARK: - Re-signed variant

private func checkResigned(_ decoded: [String: String], _ body: [UInt8]) {
    guard decoded.keys.allSatisfy(isPlainName) else { return }
    for credentials in allCredentials {
        var fields = decoded
        fields["sign"] = Signer.sign(fields, type: credentials.signType, key: credentials.key)
        guard let signed = try? XMLBodyEncoder.encode(fields) else { fail("encode refused plain names", body) }

        let (outcome, _) = ResponseClassifier.classifyClose(httpStatus: 200, body: signed, order: order, credentials: credentials)
        let context = "re-signed [\(credentials.signType.rawValue)] close outcome \(outcome)"
        let expected: CloseOutcome
        switch fields["return_code"] {
        case "FAIL": expected = failIsMerchantWide(fields) ? .configurationError("return_code FAIL") : .orderRejected("return_code FAIL")
        case "SUCCESS": expected = believable(fields, credentials) ? expectedBelievedClose(fields) : .retryable(.badSignature(""))
        default: expected = .retryable(.unparseable(""))
        }
        check(sameShape(outcome, expected) || {
            switch (outcome, expected) {
            case (.configurationError(let fault), .configurationError): fault.reason.hasPrefix("return_code FAIL")
            case (.orderRejected(let m), .orderRejected): m.hasPrefix("return_code FAIL")
            default: false
            }
        }(), "\(context), expected \(expected)", body)
        func echoFits(_ name: String, _ sent: String?) -> Bool {
            fields[name].map { $0.isEmpty || $0 == sent } ?? true
        }
        if fields["return_code"] == "SUCCESS", echoFits("appid", order.appID), echoFits("mch_id", order.mchID),
           echoFits("out_trade_no", order.outTradeNo), echoFits("sub_mch_id", nil) {
            check(believable(fields, credentials), "\(context): a correctly signed answer is not believed", body)
        }

        // The same body as an answer to a service-provider order: the sub-merchant echoes decide.
        let (subOutcome, subSummary) = ResponseClassifier.classifyClose(httpStatus: 200, body: signed, order: subOrder, credentials: credentials)
        let subBelieved = believable(fields, credentials, about: subOrder)
        check(subSummary.verified == subBelieved, "re-signed [\(credentials.signType.rawValue)] SP close verified \(subSummary.verified) vs \(subBelieved)", body)
        if isTerminal(subOutcome) { check(subBelieved, "re-signed SP close \(subOutcome) for an answer about another order", body) }
        let (query, querySummary) = ResponseClassifier.classifyQuery(httpStatus: 200, body: signed, order: subOrder, credentials: credentials)
        let queryBelieved = believable(fields, credentials, about: subOrder, query: true)
        check(querySummary.verified == queryBelieved, "re-signed [\(credentials.signType.rawValue)] SP query verified \(querySummary.verified) vs \(queryBelieved)", body)
        if case .state = query { check(queryBelieved, "re-signed SP query \(query) for an answer about another order", body) }

        // The same body checked with the other sign type is never believed.
        for other in allCredentials where other.signType != credentials.signType {
            let (crossed, _) = ResponseClassifier.classifyClose(httpStatus: 200, body: signed, order: order, credentials: other)
            check(!isTerminal(crossed), "signed with \(credentials.signType.rawValue), believed as \(other.signType.rawValue): \(crossed)", body)
            if fields["return_code"] == "SUCCESS" {
                guard case .retryable(.badSignature) = crossed else { fail("signed with \(credentials.signType.rawValue), checked as \(other.signType.rawValue): \(crossed)", body) }
            }
        }
    }
}

// MARK: - Reporting

private func check(_ condition: Bool, _ message: @autoclosure () -> String, _ body: [UInt8]) {
    if !condition { fail(message(), body) }
}

private func fail(_ message: String, _ body: [UInt8]) -> Never {
    let hex = body.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
    fatalError("""
        invariant violated: \(message)
        input (\(body.count) bytes) hex: \(hex)
        input as text: \(String(decoding: body, as: UTF8.self).debugDescription)
        """)
}
