// libFuzzer entry point for the WeChat Pay v3 answer path: the four Wechatpay-* headers, the
// status and the body of an answer to a close or a query, as WeChatPayV3 reads them.
//
// Input layout: byte 0 picks the status (low 4 bits) and flags; byte 1 the clock skew when the
// answer is re-signed; the rest is "TIMESTAMP\nNONCE\nSERIAL\nSIGNATURE\nBODY" (a header whose line is
// missing is absent). For each input the harness checks:
//
// 1. AnswerVerifier.verify never traps, for any header value and any clock (Int64.min … max;
//    issue 21: "Wechatpay-Timestamp: -9223372036854775808" overflowed and killed the daemon), and
//    it accepts exactly what our own reading of its table accepts: four non-empty headers, a
//    timestamp of 1–18 ASCII digits within ±300 s of now, the serial of the key held (any case),
//    and a signature that verifies over TIMESTAMP\nNONCE\nBODY\n.
// 2. V3ResponseClassifier.classifyClose never traps and never decides an order by itself: no
//    v3 close answer is closed / already closed / not exist / paid; an answer that would be one
//    is .unconfirmed (the query decides), and only a verified answer may be .unconfirmed,
//    .orderRejected or .unknownCode. An answer that does not verify is retry (not believed, or
//    429/5xx), or a configuration error when it is a 401. A verified answer follows the
//    classifier's table, computed here from the status and the code.
// 3. classifyQuery (a direct and a partner order) never traps; a trade_state only comes from a
//    verified 200 whose JSON names this very order (out_trade_no, and mchid / sp_mchid / sub_mchid
//    when present) and whose trade_state and transaction_id it repeats; not exist only from a
//    verified non-200 ORDER_NOT_EXIST / ORDERNOTEXIST.
// 4. summary.verified is true exactly when verify accepts (and, for a query's trade_state, the
//    echoes hold); descriptions never trap.
//
// With flag 0x10 the harness re-signs the answer with the WeChat Pay test key (timestamp = now +
// a skew from byte 1, serial = the key's id when flag 0x40), so the fuzzer reaches the believed
// paths without forging RSA. Signing costs about a millisecond, so one in eight of the inputs
// with the flag (chosen by a hash of the input) is re-signed; the seeds in Fuzz/corpus-v3 are
// (their ignored timestamp line is chosen so).
// A violated invariant calls fatalError, which libFuzzer reports as a crash and saves the input.

import Foundation
import GatewayVocabulary
import WeChatPayV2
import WeChatPayV3

#if canImport(Glibc)
import Glibc
#endif

private let verbose = getenv("CLOSEORDER_FUZZ_VERBOSE").map { String(cString: $0) == "1" } ?? false

/// The fake's WeChat Pay test key (Sources/FakeWeChatPay/FakeV3Keys.swift): published test data.
private let weChatPayKey = try! MerchantPrivateKey(pem: """
-----BEGIN PRIVATE KEY-----
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCOcKJyHHwW2Gk4
dznFfWuMTikpGaardIDljiyf1yWA7fBMJWldthhzUnAifwwMNATx8vHP9DffZszl
G6yRByif0+x64FF6G0uSjBOvlA9wzsyVftR35PcIbwtYPecyODyoq5g9OafrcS6o
GSuU3GRujNvv+OsGPjWF0tSI4Hnqrk5OU46WaEzdaYtnLR5dxCxtKAlPRbznStOZ
oaQXT1kEK8i8Phkz5HFWPQWt4jyQmmKLzQzO95C3W7vVmkkQX5ABSHBdnIbGtUQ0
y3pK92AQGxNJP4EkN6jI6buwzKkpzFpgHWpTH7pCPyfF7tezh7TiVqktmrKT4B9e
Hc/GpHQJAgMBAAECggEAEPgTKjQBhnk2o870V3Y3G0pudeKD7BYfivlykIJBiggO
ogus70iTxh1SlZF8HnIOCsLuEt+dzmQBUeQHnWl0agIFwKe7nSfmS2mbqMWjR0Wj
ssWeyz/APEV6XQNW6TEw7MkwhE67lf1wWP9SpVPSNSdbxk1ptl8v4ib5Qes4KwB2
ego1BJd7osyQ7CNty6il+nbPVhY7/B+Uo6KCdrjvJ0/nOT30HLxjC7eMg6mm1XBO
1+2gV317j0ERGdnZoCAR0uc4B4oQpXtLrNhLkdmtarj8ckyXJnmtwwUzSDRDBPbd
k+PwPwz0RuUV3vlM1gZHOss+GlKwoP/5QrRhjfkUXwKBgQDDXfU0tAXpGTqjijkG
udhy7d12TviC+QDjYRi7CQGSUhN7FEF9PNNzf3GN4KFOtwLYlTGOp+kHhQ+ZQlYu
KraPmMuPoOcqmYuicRKwdHG2YJq5K38/b0kCovtBqz8JCrUyaqBoV0iETLTAC3+7
aqfGrbScrkyf9A6tEfdpXnfX+wKBgQC6pZZWHsPljWLedlyTnNLmGlt7xgiH8MMi
XVG09oTM1eYNlO44Oy9+Esd1y3Hd5SlsnAMt2Tizb/P0LnlrtNS6NTRVnxSbITaD
SFZ9Zu7fuZ61hcXZTfKXoeyha7jmTIHI1GdYnNP4ZxwcWC0czHQDe7huQWf6RbG7
IeFe5y2QywKBgQCvjJkOX4lEGJh5ZXWyloJpW1X5viJORgNHTfNT9VbFLR02JlBm
gaabjPPzgdpQieBzzzP1tOmPCUCn/VTFLTpYM/sON44g2FIBiEs75ZZcQ9gj9XLl
BFF9ngfZzU/aBxYklG1I9M1DnE16l5qSRNc3jtTRSUmvHTWmzJMdynYzywKBgCTa
RRDEClHs1LSwEh9jO5ELazzJIS4WL7E9U8CzXA1FvqK34UFhDkOKWa+8d8MkWEWF
mGsZFMT5OeXgt0C497e8gZTWUC9BI45QXiNsi4XJFLkqrKH3bgrageptZpiySn3o
0m8AqCnH0hkWn/GrvMxjRUsfxvP3htw4GFOwuaJ5AoGANNbknTsfDunSQ6yKsQXa
SE7Pj6hq58aeEesV/bbRtqJy3Mp7ExXDfRvdT5B9550q2JpIqAi4mTzgohI42UG9
jwmDy4RV9hRQ3cU7o+2lnxbiwD14RFx6NLlqYcdHpq51N3aga4UuCMbOqG33II8L
jdMTLaB4EMSDpkNUe5DJQO4=
-----END PRIVATE KEY-----
""")
private let keyID = "PUB_KEY_ID_0114232134912410000000000000"
private let keys = try! WeChatPayKeys(publicKeyID: keyID, key: weChatPayKey.publicKey)
private let now: Int64 = 1_764_500_000
private let direct = try! V3OrderReference(mchID: "1900000109", outTradeNo: "1217752501201407033233368018")
private let partner = try! V3OrderReference(mchID: "1900000109", outTradeNo: "1217752501201407033233368018", subMchID: "1900000110")
private let statuses = [200, 204, 400, 401, 403, 404, 429, 500, 502, 503, 202, 299, 301, 100, 418, 599]

private let configurationCodes: Set<String> = ["SIGN_ERROR", "NO_AUTH", "MCH_NOT_EXISTS", "APPID_MCHID_NOT_MATCH"]
private let rejectionCodes: Set<String> = ["PARAM_ERROR", "INVALID_TRANSACTIONID", "OPENID_MISMATCH"]
private let queryFirstCodes: Set<String> = ["USER_PAYING", "TRADE_ERROR", "OUT_TRADE_NO_USED", "ACCOUNT_ERROR", "NOT_ENOUGH", "RULE_LIMIT"]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    guard input.count >= 2 else { return 0 }
    let flags = input[0]
    let status = statuses[Int(flags & 0x0F)]
    var fields: [[UInt8]] = []
    var rest = input[2...]
    while fields.count < 4, let newline = rest.firstIndex(of: 0x0A) {
        fields.append(Array(rest[rest.startIndex..<newline]))
        rest = rest[(newline + 1)...]
    }
    let body = Array(rest)
    // Header values as HTTP hands them over: any bytes, read as UTF-8 with repairs.
    func header(_ index: Int) -> String? { index < fields.count ? String(decoding: fields[index], as: UTF8.self) : nil }
    var answer = V3Answer(status: status, timestamp: header(0), nonce: header(1), signature: header(3), serial: header(2), body: body)
    // Signing costs about a millisecond: only one in eight of the inputs that ask for it (by a
    // hash of the input, so the same input is always treated the same) pays it.
    if flags & 0x10 != 0, input.reduce(UInt32(2_166_136_261), { ($0 ^ UInt32($1)) &* 16_777_619 }) % 8 == 0 {
        let skew = (Int64(input[1]) - 128) * 4     // -512 … 508: inside and outside the ±300 s window
        let timestamp = String(now + skew)
        let nonce = answer.nonce ?? ""
        let serial = flags & 0x40 != 0 ? (flags & 0x80 != 0 ? keyID.lowercased() : keyID) : (answer.serial ?? "")
        let signature = try! weChatPayKey.sign(SigningMessage.answer(timestamp: timestamp, nonce: nonce, body: body))
        answer = V3Answer(status: status, timestamp: timestamp, nonce: nonce, signature: signature, serial: serial, body: body)
    }
    check(answer, input)
    return 0
}

// MARK: - Verification

/// Whether the signature verifies, computed once per input (RSA is the costly part).
nonisolated(unsafe) private var signatureCache: (answer: V3Answer, valid: Bool)?

/// Our own reading of AnswerVerifier's table.
private func shouldVerify(_ answer: V3Answer, now: Int64) -> Bool {
    guard let timestamp = answer.timestamp, !timestamp.isEmpty, let nonce = answer.nonce, !nonce.isEmpty,
          let signature = answer.signature, !signature.isEmpty, let serial = answer.serial, !serial.isEmpty else { return false }
    guard timestamp.utf8.count <= 18, timestamp.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let seconds = Int64(timestamp) else { return false }
    // Compared in a wider type: the oracle itself must not overflow.
    let skew = Double(seconds) - Double(now)
    guard abs(skew) <= 300 else { return false }
    guard serial.uppercased() == keyID.uppercased() else { return false }
    if let cached = signatureCache, cached.answer == answer { return cached.valid }
    let valid = weChatPayKey.publicKey.isValidSignature(signature, for: SigningMessage.answer(timestamp: timestamp, nonce: nonce, body: answer.body))
    signatureCache = (answer, valid)
    return valid
}

/// The fields a query answer may echo, read as the classifier must read them (strings or absent).
private struct QueryEcho: Decodable {
    var mchid: String?
    var sp_mchid: String?
    var sub_mchid: String?
    var out_trade_no: String?
    var transaction_id: String?
    var trade_state: String?
}

private func check(_ answer: V3Answer, _ input: [UInt8]) {
    for clock in [Int64.min, -1, 0, now - 301, Int64.max] {
        do { try AnswerVerifier.verify(answer, keys: keys, nowSeconds: clock) } catch {
            _ = error.description
            continue
        }
        check(shouldVerify(answer, now: clock), "verify accepted at now = \(clock) what its table refuses", input)
    }
    var verified = true
    do { try AnswerVerifier.verify(answer, keys: keys, nowSeconds: now) } catch {
        check([.verification, .staleTimestamp, .unknownSerial].contains(error.kind), "verify threw \(error.kind)", input)
        verified = false
    }
    check(verified == shouldVerify(answer, now: now), "verify says \(verified), its table says otherwise", input)

    let (close, closeSummary) = V3ResponseClassifier.classifyClose(answer, request: .close(direct), keys: keys, nowSeconds: now)
    _ = close.description
    if verbose { print("status \(answer.status), verified \(verified): close \(close); summary \(closeSummary)") }
    check(closeSummary.verified == verified, "close summary.verified \(closeSummary.verified), verify \(verified)", input)
    check(closeSummary.httpStatus == answer.status, "close summary has another status", input)
    checkClose(close, closeSummary, answer, verified: verified, input)

    for order in [direct, partner] {
        let (query, querySummary) = V3ResponseClassifier.classifyQuery(answer, request: .query(order), keys: keys, nowSeconds: now)
        _ = query.description
        if verbose { print("query (\(order.isPartner ? "partner" : "direct")): \(query); summary \(querySummary)") }
        checkQuery(query, querySummary, answer, order: order, verified: verified, input)
    }
}

// MARK: - Close

private func checkClose(_ outcome: CloseOutcome, _ summary: ResponseSummary, _ answer: V3Answer, verified: Bool, _ input: [UInt8]) {
    switch outcome {
    case .closed, .alreadyClosed, .notExist, .paid:
        fail("a v3 close answer decided the order without a query: \(outcome)", input)
    default: break
    }
    let status = answer.status
    guard verified else {
        switch outcome {
        case .retryable(.badSignature): check(status != 401 && status != 429 && status < 500, "not believed, yet \(status)", input)
        case .retryable(.httpStatus(let s)): check(s == status && (status == 429 || status >= 500), "unverified \(outcome) for \(status)", input)
        case .configurationError: check(status == 401, "an unverified \(status) paused the merchant", input)
        default: fail("an unverified answer classified as \(outcome)", input)
        }
        return
    }
    let expected = expectedClose(status: status, code: summary.errCode)
    check(sameShape(outcome, expected), "verified close \(outcome), the table says \(expected)", input)
}

/// The table in V3ResponseClassifier's documentation, for a verified close answer.
private func expectedClose(status: Int, code: String?) -> CloseOutcome {
    let overloaded = status == 429 || status >= 500
    guard let code else {
        if (200...299).contains(status) { return .unconfirmed(.closed) }
        if status == 401 { return .configurationError("") }
        return overloaded ? .retryable(.httpStatus(status)) : .retryable(.unparseable(""))
    }
    switch code {
    case "ORDER_CLOSED": return .unconfirmed(.alreadyClosed)
    case "ORDER_NOT_EXIST", "ORDERNOTEXIST": return .unconfirmed(.notExist)
    case "SYSTEM_ERROR", "BANK_ERROR": return .retryable(.systemError)
    case "FREQUENCY_LIMITED": return .retryable(.frequencyLimited)
    case _ where configurationCodes.contains(code) || status == 401: return .configurationError("")
    case _ where rejectionCodes.contains(code): return .orderRejected("")
    case "INVALID_REQUEST": return .unconfirmed(.rejected(""))
    case _ where overloaded && !queryFirstCodes.contains(code): return .retryable(.httpStatus(status))
    default: return .unknownCode(code)
    }
}

/// Equal up to free-text reasons.
private func sameShape(_ a: CloseOutcome, _ b: CloseOutcome) -> Bool {
    switch (a, b) {
    case (.retryable(.unparseable), .retryable(.unparseable)), (.configurationError, .configurationError),
         (.orderRejected, .orderRejected), (.unconfirmed(.rejected), .unconfirmed(.rejected)):
        return true
    default:
        return a == b
    }
}

// MARK: - Query

private func checkQuery(_ outcome: QueryOutcome, _ summary: ResponseSummary, _ answer: V3Answer, order: V3OrderReference,
                        verified: Bool, _ input: [UInt8]) {
    switch outcome {
    case .state(let state, let transactionID):
        check(verified && answer.status == 200 && summary.verified, "a trade_state from an unverified answer or HTTP \(answer.status)", input)
        // Read with the same JSON decoder: a parser differential (JSONSerialization refuses invalid
        // UTF-8 in a key the decoder skips) is not this harness's subject; the echoes are.
        guard let echo = try? JSONDecoder().decode(QueryEcho.self, from: Data(answer.body)) else {
            fail("a trade_state from a body that does not decode", input)
        }
        func text(_ value: String?) -> String? { value.flatMap { $0.isEmpty ? nil : $0 } }
        check(text(echo.out_trade_no).map { $0.utf8.elementsEqual(order.outTradeNo.utf8) } == true, "a trade_state for another out_trade_no", input)
        let echoes: [(String, String?, String?)] = order.isPartner
            ? [("sp_mchid", echo.sp_mchid, order.mchID), ("sub_mchid", echo.sub_mchid, order.subMchID), ("mchid", echo.mchid, nil)]
            : [("mchid", echo.mchid, order.mchID), ("sp_mchid", echo.sp_mchid, nil), ("sub_mchid", echo.sub_mchid, nil)]
        for (name, value, sent) in echoes {
            guard let echoed = text(value) else { continue }
            check(sent.map { echoed.utf8.elementsEqual($0.utf8) } == true, "a trade_state whose \(name) is another merchant's", input)
        }
        check(echo.trade_state == state.rawValue, "trade_state \(state) not in the body", input)
        check(transactionID == text(echo.transaction_id), "a transaction_id the body does not hold", input)
    case .notExist:
        check(verified && summary.verified && answer.status != 200, "not exist from an unverified answer or a 200", input)
        check(summary.errCode == "ORDER_NOT_EXIST" || summary.errCode == "ORDERNOTEXIST", "not exist for \(summary.errCode ?? "no code")", input)
    case .orderRejected, .unknownCode:
        check(verified && summary.verified, "\(outcome) from an unverified answer", input)
    case .configurationError:
        check(verified || answer.status == 401, "an unverified \(answer.status) paused the merchant", input)
    case .retryable:
        break
    }
    if !verified { check(!summary.verified, "an unverified query answer marked verified", input) }
}

// MARK: - Reporting

private func check(_ condition: Bool, _ message: @autoclosure () -> String, _ input: [UInt8]) {
    if !condition { fail(message(), input) }
}

private func fail(_ message: String, _ input: [UInt8]) -> Never {
    let hex = input.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
    fatalError("""
        invariant violated: \(message)
        input (\(input.count) bytes) hex: \(hex)
        input as text: \(String(decoding: input, as: UTF8.self).debugDescription)
        """)
}
