import FakeWeChatPay
import WeChatPayV2

@testable import WeChatPayV3

/// Fixed test keys (`FakeV3Keys`): generating RSA keys is slow, more so in a debug build.
enum V3TestKeys {
    static let merchant = FakeV3Keys.merchant
    static let weChatPay = FakeV3Keys.weChatPay
    static let stranger = FakeV3Keys.stranger
    static let publicKeyID = "PUB_KEY_ID_0114232134912410000000000000"
    static let now: Int64 = 1_764_500_000
    static let credentials = try! V3Credentials(
        mchID: "1900000109", serialNo: "5157F09EFDC096DE15EBE81A47057A7232F1B8E1", privateKey: merchant)
    static let keys = try! WeChatPayKeys(publicKeyID: publicKeyID, key: weChatPay.publicKey)
    static let direct = try! V3OrderReference(mchID: "1900000109", outTradeNo: "1217752501201407033233368018")
    static let partner = try! V3OrderReference(
        mchID: "1900000109", outTradeNo: "1217752501201407033233368018", subMchID: "1900000110")

    /// An answer signed as WeChat Pay signs one.
    static func signed(
        status: Int, body: String, serial: String = publicKeyID, timestamp: Int64 = now,
        nonce: String = "c5ac7061fccab6bf3e254dcf98995b8c", key: MerchantPrivateKey = weChatPay
    ) -> V3Answer {
        let bytes = Array(body.utf8)
        let signature = try! key.sign(SigningMessage.answer(timestamp: String(timestamp), nonce: nonce, body: bytes))
        return V3Answer(
            status: status, timestamp: String(timestamp), nonce: nonce, signature: signature, serial: serial, body: bytes)
    }

    static func unsigned(status: Int, body: String) -> V3Answer {
        V3Answer(status: status, timestamp: nil, nonce: nil, signature: nil, serial: nil, body: Array(body.utf8))
    }

    static func error(_ code: String, _ message: String = "描述") -> String {
        "{\"code\":\"\(code)\",\"message\":\"\(message)\"}"
    }
}
