import WeChatPayV2

/// Builds answers signed the way WeChat signs them: with the merchant's key and the request's sign type.
struct V2AnswerSigner {
    let merchant: FakeMerchant
    let signType: SignType
    /// Echoed from the request.
    let appID: String
    let subMchID: String?
    /// The answer's own `nonce_str`.
    let nonce: String
    var corrupt = false

    func tampered() -> V2AnswerSigner {
        var copy = self
        copy.corrupt = true
        return copy
    }

    func success(tradeState: String? = nil, outTradeNo: String? = nil, transactionID: String? = nil) -> [UInt8] {
        var fields = ["result_code": "SUCCESS", "result_msg": "OK"]
        fields["trade_state"] = tradeState
        fields["out_trade_no"] = outTradeNo
        fields["transaction_id"] = transactionID
        return signed(fields)
    }

    func failure(_ errCode: String, _ description: String) -> [UInt8] {
        signed(["result_code": "FAIL", "err_code": errCode, "err_code_des": description])
    }

    func signed(_ business: [String: String]) -> [UInt8] {
        var fields = business
        fields["return_code"] = "SUCCESS"
        fields["return_msg"] = "OK"
        fields["appid"] = appID
        fields["mch_id"] = merchant.mchID
        fields["sub_mch_id"] = subMchID
        fields["nonce_str"] = nonce
        var sign = Signer.sign(fields, type: signType, key: merchant.key)
        if corrupt {
            // Flip the last hex digit: a near miss, the hardest kind to notice.
            let last = sign.removeLast()
            sign.append(last == "0" ? "1" : "0")
        }
        fields["sign"] = sign
        return (try? XMLBodyEncoder.encode(fields)) ?? []
    }
}
