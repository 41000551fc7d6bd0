import Benchmark
import FakeWeChatPay
import Foundation
import WeChatPayV2
import WeChatPayV3

// Where a v3 close's CPU goes, beside v2's (issue 14): a v3 close is a POST answered 204 plus a GET
// that confirms it, each signed with the merchant's RSA-2048 key (PKCS#1 v1.5, SHA-256) and each
// answer verified with WeChat Pay's public key; v2 signs and verifies one exchange with HMAC-SHA256.
// The fake does the mirror image (verify the request, sign the answer), so its rows are here too.
//
// | row                                   | daemon, per v3 order | fake, per v3 order |
// |---------------------------------------|----------------------|--------------------|
// | v3: sign close / query request         | 1 + 1                | –                  |
// | v3: verify answer signature            | 2 (in classify)      | –                  |
// | v3: verify request signature           | –                    | 2                  |
// | v3: sign answer                        | –                    | 2                  |

let v3Timestamp: Int64 = 1_800_000_000
let v3Nonce = "5K8264ILTKCH16CQ2502SI8ZNMTM67VS"
let v3Credentials = try! V3Credentials(mchID: "1900000109", serialNo: "5157F09EFDC096DE15EBE81A47057A7232F1B8E1",
                                       privateKey: FakeV3Keys.merchant)
let v3Order = try! V3OrderReference(mchID: "1900000109", outTradeNo: "ORDER-20261129-0001")
let weChatPayKeys = try! WeChatPayKeys(publicKeyID: "PUB_KEY_ID_0119000001092026113000000000", key: FakeV3Keys.weChatPay.publicKey)

/// An answer signed by the fake's WeChat Pay key, as the fake (and WeChat Pay) sends it.
func v3Answer(status: Int, body: [UInt8]) -> V3Answer {
    let signature = try! FakeV3Keys.weChatPay.sign(SigningMessage.answer(timestamp: String(v3Timestamp), nonce: v3Nonce, body: body))
    return V3Answer(status: status, timestamp: String(v3Timestamp), nonce: v3Nonce, signature: signature,
                    serial: "PUB_KEY_ID_0119000001092026113000000000", body: body)
}

let v3QueryBody = Array(#"{"mchid":"1900000109","out_trade_no":"ORDER-20261129-0001","trade_state":"CLOSED","trade_state_desc":"CLOSED"}"#.utf8)

func v3Benchmarks() {
    Benchmark("v3: sign close request (RSA-2048, SignedV3Request)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try SignedV3Request(.close(v3Order), credentials: v3Credentials, timestamp: v3Timestamp, nonce: v3Nonce))
        }
    }
    Benchmark("v3: sign query request (RSA-2048, SignedV3Request)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try SignedV3Request(.query(v3Order), credentials: v3Credentials, timestamp: v3Timestamp, nonce: v3Nonce))
        }
    }
    Benchmark("v3: verify answer signature (204, RSA-2048 public key)") { benchmark in
        let answer = v3Answer(status: 204, body: [])
        try AnswerVerifier.verify(answer, keys: weChatPayKeys, nowSeconds: v3Timestamp)
        benchmark.startMeasurement()   // the answer's signing above is setup, not what is measured
        for _ in benchmark.scaledIterations {
            try AnswerVerifier.verify(answer, keys: weChatPayKeys, nowSeconds: v3Timestamp)
        }
    }
    Benchmark("v3: classify query answer (verify + JSON + classify)") { benchmark in
        let answer = v3Answer(status: 200, body: v3QueryBody)
        let request = V3Request.query(v3Order)
        let (outcome, _) = V3ResponseClassifier.classifyQuery(answer, request: request, keys: weChatPayKeys, nowSeconds: v3Timestamp)
        precondition(outcome == .state(.closed, transactionID: nil), "the benchmark's answer is not believed: \(outcome)")
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(V3ResponseClassifier.classifyQuery(answer, request: request, keys: weChatPayKeys, nowSeconds: v3Timestamp))
        }
    }
    Benchmark("v3: verify request signature (the fake's side)") { benchmark in
        let request = V3Request.close(v3Order)
        let message = SigningMessage.request(method: request.method, canonicalURL: request.canonicalURL,
                                             timestamp: v3Timestamp, nonce: v3Nonce, body: request.body)
        let signature = try FakeV3Keys.merchant.sign(message)
        let publicKey = FakeV3Keys.merchant.publicKey
        precondition(publicKey.isValidSignature(signature, for: message))
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations { blackHole(publicKey.isValidSignature(signature, for: message)) }
    }
    Benchmark("v3: sign answer (RSA-2048, the fake's side)") { benchmark in
        let message = SigningMessage.answer(timestamp: String(v3Timestamp), nonce: v3Nonce, body: v3QueryBody)
        for _ in benchmark.scaledIterations { blackHole(try FakeV3Keys.weChatPay.sign(message)) }
    }
}
