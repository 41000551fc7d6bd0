/// Decides whether a decoded response may be believed.
///
/// `return_code=SUCCESS` answers must carry a `sign` that matches every returned non-empty field
/// except `sign` (unknown fields included), computed with the request's sign type and compared in
/// constant time; `appid` and `mch_id`, when echoed, must be the request's. `return_code=FAIL`
/// answers are unsigned by WeChat, so they are believed only as configuration errors.
public enum ResponseVerifier {
    public static func verify(_ fields: [String: String], for order: OrderReference, credentials: MerchantCredentials) throws(ProtocolError) {
        guard let returnCode = fields["return_code"] else { throw .verification("the response has no return_code") }
        guard returnCode == "SUCCESS" else { return }
        guard let sign = fields["sign"], !sign.isEmpty else {
            throw .verification("a return_code=SUCCESS response has no sign")
        }
        guard Signer.isValid(sign: sign, for: fields, type: credentials.signType, key: credentials.key) else {
            throw .verification("the response's sign does not match (\(credentials.signType.rawValue))")
        }
        if let appID = fields["appid"], !appID.isEmpty, appID != order.appID {
            throw .verification("the response's appid \(appID) is not the request's \(order.appID)")
        }
        if let mchID = fields["mch_id"], !mchID.isEmpty, mchID != order.mchID {
            throw .verification("the response's mch_id \(mchID) is not the request's \(order.mchID)")
        }
    }
}
