/// Decides whether a decoded response may be believed, and that it is about the order asked about.
///
/// `return_code=SUCCESS` answers must carry a `sign` that matches every returned non-empty field
/// except `sign` (unknown fields included), computed with the request's sign type and compared in
/// constant time. A validly signed answer may still be about another order (a replayed answer, a
/// proxy mixing up connections), so the ids it echoes must be the request's, byte for byte:
///
/// | echoed field   | closeorder                  | orderquery                                        |
/// |----------------|-----------------------------|---------------------------------------------------|
/// | `appid`        | equal when present          | equal when present                                |
/// | `mch_id`       | equal when present          | equal when present                                |
/// | `out_trade_no` | equal when present          | equal when present; required with a `trade_state` |
/// | `sub_mch_id`   | equal when present (absent from the request: no answer may name one) | same |
/// | `sub_appid`    | equal when present and sent | equal when present and sent                       |
///
/// `sub_appid` is compared only when sent: WeChat may echo the order's own sub_appid to a query
/// that did not name it. `return_code=FAIL` answers are unsigned by WeChat, so they are never
/// believed as a statement about an order (the classifier reads them as faults only).
public enum ResponseVerifier {
    public static func verify(
        _ fields: [String: String], for order: OrderReference, credentials: MerchantCredentials,
        operation: Operation = .closeOrder
    ) throws(ProtocolError) {
        guard let returnCode = fields["return_code"] else { throw .verification("the response has no return_code") }
        guard returnCode == "SUCCESS" else { return }
        guard let sign = fields["sign"], !sign.isEmpty else {
            throw .verification("a return_code=SUCCESS response has no sign")
        }
        guard Signer.isValid(sign: sign, for: fields, type: credentials.signType, key: credentials.key) else {
            throw .verification("the response's sign does not match (\(credentials.signType.rawValue))")
        }
        try checkEcho("appid", fields, order.appID)
        try checkEcho("mch_id", fields, order.mchID)
        try checkEcho("out_trade_no", fields, order.outTradeNo)
        try checkEcho("sub_mch_id", fields, order.subMchID)
        if let subAppID = order.subAppID { try checkEcho("sub_appid", fields, subAppID) }
        if operation == .orderQuery, let state = fields["trade_state"], !state.isEmpty,
            (fields["out_trade_no"] ?? "").isEmpty
        {
            throw .verification("the query answer gives trade_state \(state) but names no out_trade_no")
        }
    }

    /// A non-empty echo must be the request's value (nil: the request did not send the field).
    /// Bytes are compared, not Unicode canonical equivalence ("K" U+212A is not "K").
    static func checkEcho(_ name: String, _ fields: [String: String], _ sent: String?) throws(ProtocolError) {
        guard let echoed = fields[name], !echoed.isEmpty else { return }
        guard let sent else {
            throw .verification("the answer names another order: it gives \(name) \(echoed), which the request did not send")
        }
        guard echoed.utf8.elementsEqual(sent.utf8) else {
            throw .verification("the answer names another order: its \(name) \(echoed) is not the request's \(sent)")
        }
    }
}
