import Foundation
import GatewayVocabulary
import PropertyBased
import Testing

@testable import WeChatPayV3

@Suite struct V3PropertyTests {
    static let bodies = Gen.uint8().array(of: 0...200)
    static let nonces = Gen.letterOrNumber.string(of: 1...32)

    @Test func aSignedRequestVerifiesAndAnyOneByteChangeOfMessageOrSignatureBreaksIt() async {
        await propertyCheck(count: 60, input: Self.bodies, Self.nonces, Gen.int(in: 0...100_000), Gen.uint8(in: 1...255)) {
            body, nonce, pick, flip in
            let message = SigningMessage.request(
                method: "POST", canonicalURL: "/v3/pay/transactions/out-trade-no/ORDER_0001/close",
                timestamp: 1_764_500_000, nonce: nonce, body: body)
            let signature = try V3TestKeys.merchant.sign(message)
            let key = V3TestKeys.merchant.publicKey
            #expect(key.isValidSignature(signature, for: message))

            var changed = message
            changed[pick % changed.count] ^= flip
            #expect(!key.isValidSignature(signature, for: changed), "a changed message byte went unnoticed")

            var raw = Array(Data(base64Encoded: signature)!)
            raw[pick % raw.count] ^= flip
            #expect(
                !key.isValidSignature(Data(raw).base64EncodedString(), for: message), "a changed signature byte went unnoticed")
        }
    }

    @Test func aSignedAnswerVerifiesAndAnyOneByteChangeOfItsBodyBreaksIt() async {
        await propertyCheck(count: 60, input: Self.bodies, Gen.int(in: 0...100_000), Gen.uint8(in: 1...255)) { body, pick, flip in
            let text = String(decoding: body, as: UTF8.self)
            let answer = V3TestKeys.signed(status: 200, body: text)
            try AnswerVerifier.verify(answer, keys: V3TestKeys.keys, nowSeconds: V3TestKeys.now)
            guard !answer.body.isEmpty else { return }
            var changed = answer.body
            changed[pick % changed.count] ^= flip
            let tampered = V3Answer(
                status: 200, timestamp: answer.timestamp, nonce: answer.nonce, signature: answer.signature,
                serial: answer.serial, body: changed)
            #expect(throws: V3Error.self) {
                try AnswerVerifier.verify(tampered, keys: V3TestKeys.keys, nowSeconds: V3TestKeys.now)
            }
        }
    }
}
