/// The ids of one order as the merchant's row names them: what the domain hands a gateway. Each
/// API's adapter checks them against its own rules (v2 `OrderReference`, v3 `V3OrderReference`)
/// when it builds its request; this value only drops empty optional ids.
public struct OrderKey: Sendable, Hashable, CustomStringConvertible {
    public let appID: String
    public let mchID: String
    public let outTradeNo: String
    public let subMchID: String?
    public let subAppID: String?

    public init(appID: String, mchID: String, outTradeNo: String, subMchID: String? = nil, subAppID: String? = nil) {
        self.appID = appID
        self.mchID = mchID
        self.outTradeNo = outTradeNo
        self.subMchID = subMchID.flatMap { $0.isEmpty ? nil : $0 }
        self.subAppID = subAppID.flatMap { $0.isEmpty ? nil : $0 }
    }

    public var description: String { "\(outTradeNo) (mch \(mchID))" }
}
