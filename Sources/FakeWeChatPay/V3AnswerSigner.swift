import Foundation
import WeChatPayV3

/// Signs v3 answers as WeChat Pay does: `Wechatpay-*` headers over `TIMESTAMP\nNONCE\nBODY\n`.
struct V3AnswerSigner {
    let identity: FakeV3Identity
    var serial: String
    var timestamp: Int64
    let nonce: String
    var corrupt = false

    func signed(_ status: Int, body: [UInt8]) -> FakeWeChatPay.Answer.Action {
        // Signing with a freshly generated key cannot fail.
        var signature = try! identity.key.sign(SigningMessage.answer(timestamp: String(timestamp), nonce: nonce, body: body))
        if corrupt {
            // Change the first base64 character: still base64, no longer the signature.
            let first = signature.removeFirst()
            signature.insert(first == "A" ? "B" : "A", at: signature.startIndex)
        }
        return .respondV3(
            status: status,
            headers: [
                V3Answer.timestampHeader: String(timestamp), V3Answer.nonceHeader: nonce,
                V3Answer.signatureHeader: signature, V3Answer.serialHeader: serial,
            ], body: body)
    }

    func error(_ status: Int, _ code: String, _ message: String) -> FakeWeChatPay.Answer.Action {
        json(status, ["code": code, "message": message])
    }

    func json(_ status: Int, _ fields: [String: String]) -> FakeWeChatPay.Answer.Action {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return signed(status, body: Array((try? encoder.encode(fields)) ?? Data()))
    }

    func noContent() -> FakeWeChatPay.Answer.Action { signed(204, body: []) }
}
