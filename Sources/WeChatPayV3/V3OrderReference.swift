import GatewayVocabulary

/// The ids that name one order to the v3 API: a direct merchant's `mchid`, or a service
/// provider's `sp_mchid` with the order's `sub_mchid`.
///
/// v3's `out_trade_no` rule is narrower than v2's:
///
/// | rule                 | v2                          | v3                         |
/// |----------------------|-----------------------------|----------------------------|
/// | length               | 1–32                        | 6–32                       |
/// | characters           | `[0-9A-Za-z_-|*@]`          | `[0-9A-Za-z_-*]`           |
///
/// An id is placed in the URL path unescaped, so the rule also keeps the path unambiguous.
public struct V3OrderReference: Sendable, Hashable {
    /// The direct merchant's `mchid`, or the service provider's `sp_mchid`.
    public let mchID: String
    public let outTradeNo: String
    /// Set for a service provider's sub-merchant (partner API); nil for a direct merchant.
    public let subMchID: String?

    public init(mchID: String, outTradeNo: String, subMchID: String? = nil) throws(V3Error) {
        if let violation = Self.outTradeNoViolation(outTradeNo) { throw V3Error(.invalidField, violation) }
        try Self.checkMerchantID("mchid", mchID)
        let subMchID = subMchID.flatMap { $0.isEmpty ? nil : $0 }
        if let subMchID { try Self.checkMerchantID("sub_mchid", subMchID) }
        self.mchID = mchID
        self.outTradeNo = outTradeNo
        self.subMchID = subMchID
    }

    /// The v3 reference for the domain's order key; appid plays no part in v3 close and query.
    public init(_ order: OrderKey) throws(V3Error) {
        try self.init(mchID: order.mchID, outTradeNo: order.outTradeNo, subMchID: order.subMchID)
    }

    /// Whether the partner API serves this order.
    public var isPartner: Bool { subMchID != nil }

    /// Why `value` is not a v3 `out_trade_no`, or nil when it is one.
    public static func outTradeNoViolation(_ value: String) -> String? {
        let count = value.utf8.count
        guard count >= 6, count <= 32 else {
            return "out_trade_no \"\(value)\" is \(count) characters; API v3 needs 6 to 32"
        }
        for byte in value.utf8
        where !(isAlphanumeric(byte) || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "*")) {
            return "out_trade_no \"\(value)\" has a character outside API v3's [0-9A-Za-z_-*]"
        }
        return nil
    }

    static func checkMerchantID(_ name: String, _ value: String) throws(V3Error) {
        guard !value.isEmpty, value.utf8.count <= 32, value.utf8.allSatisfy(isAlphanumeric) else {
            throw V3Error(.invalidField, "\(name) \"\(value)\" must be 1 to 32 letters or digits")
        }
    }

    static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
    }
}
