import GatewayVocabulary

/// The ids that name one order to WeChat Pay: the common part of close and query requests.
///
/// Validated on construction: `out_trade_no` is 1–32 characters of `[0-9A-Za-z_-|*@]` with no
/// surrounding whitespace, every field is at most 32 characters, and the optional
/// service-provider fields are dropped when empty so they are never sent.
public struct OrderReference: Sendable, Hashable {
    public let appID: String
    public let mchID: String
    public let outTradeNo: String
    public let subMchID: String?
    public let subAppID: String?

    public init(appID: String, mchID: String, outTradeNo: String, subMchID: String? = nil, subAppID: String? = nil)
        throws(ProtocolError)
    {
        try Self.checkOutTradeNo(outTradeNo)
        try Self.checkField("appid", appID)
        try Self.checkField("mch_id", mchID)
        let subMchID = subMchID.flatMap { $0.isEmpty ? nil : $0 }
        let subAppID = subAppID.flatMap { $0.isEmpty ? nil : $0 }
        if let subMchID { try Self.checkField("sub_mch_id", subMchID) }
        if let subAppID { try Self.checkField("sub_appid", subAppID) }
        if subAppID != nil, subMchID == nil {
            throw .invalidField("sub_appid is set without sub_mch_id")
        }
        self.appID = appID
        self.mchID = mchID
        self.outTradeNo = outTradeNo
        self.subMchID = subMchID
        self.subAppID = subAppID
    }

    /// The order's fields without nonce, sign type and sign.
    var baseFields: [String: String] {
        var fields = ["appid": appID, "mch_id": mchID, "out_trade_no": outTradeNo]
        if let subMchID { fields["sub_mch_id"] = subMchID }
        if let subAppID { fields["sub_appid"] = subAppID }
        return fields
    }

    /// Whether `value` is a valid `out_trade_no`; the same rule as the table's CHECK constraint.
    public static func isValidOutTradeNo(_ value: String) -> Bool {
        (try? checkOutTradeNo(value)) != nil
    }

    static func checkOutTradeNo(_ value: String) throws(ProtocolError) {
        guard !value.isEmpty else { throw .invalidField("out_trade_no is empty") }
        guard value.utf8.count <= 32 else { throw .invalidField("out_trade_no is longer than 32 characters") }
        let allowed = Set("_-|*@".utf8)
        for byte in value.utf8 {
            let alphanumeric = (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
            guard alphanumeric || allowed.contains(byte) else {
                throw .invalidField("out_trade_no \"\(value)\" has a character outside [0-9A-Za-z_-|*@]")
            }
        }
    }

    static func checkField(_ name: String, _ value: String) throws(ProtocolError) {
        guard !value.isEmpty else { throw .invalidField("\(name) is empty") }
        guard value.count <= 32 else { throw .invalidField("\(name) is longer than 32 characters") }
        guard value.trimmingWhitespace() == value else { throw .invalidField("\(name) has surrounding whitespace") }
    }
}

extension OrderReference {
    /// The v2 reference for a domain order key, checked against v2's rules.
    public init(_ key: OrderKey) throws(ProtocolError) {
        try self.init(
            appID: key.appID, mchID: key.mchID, outTradeNo: key.outTradeNo, subMchID: key.subMchID, subAppID: key.subAppID)
    }

    /// The domain's key for this order.
    public var key: OrderKey {
        OrderKey(appID: appID, mchID: mchID, outTradeNo: outTradeNo, subMchID: subMchID, subAppID: subAppID)
    }
}
