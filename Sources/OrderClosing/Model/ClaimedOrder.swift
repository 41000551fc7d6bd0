import GatewayVocabulary

/// A row the daemon has leased: the order's columns plus the lease that guards every write to it.
public struct ClaimedOrder: Sendable, Hashable {
    public let id: Int64
    public let mchID: String
    public let appID: String
    public let outTradeNo: String
    public let subMchID: String?
    public let subAppID: String?
    /// Unix seconds, as the merchant wrote it.
    public let createdAt: Int64
    public let timeoutSeconds: Int64
    /// Delivered attempts including this one (counted at claim).
    public let attempt: Int
    /// A previous attempt may have reached WeChat without an answer (crash or timeout after sending).
    public let inDoubt: Bool
    /// When the first attempt started (unix ms); bounds the retry window.
    public let firstAttemptAt: Int64
    /// The lease token: every write about this claim is a compare-and-set on it.
    public let leaseToken: String

    public init(
        id: Int64, mchID: String, appID: String, outTradeNo: String, subMchID: String?, subAppID: String?,
        createdAt: Int64, timeoutSeconds: Int64, attempt: Int, inDoubt: Bool, firstAttemptAt: Int64, leaseToken: String
    ) {
        self.id = id
        self.mchID = mchID
        self.appID = appID
        self.outTradeNo = outTradeNo
        self.subMchID = subMchID
        self.subAppID = subAppID
        self.createdAt = createdAt
        self.timeoutSeconds = timeoutSeconds
        self.attempt = attempt
        self.inDoubt = inDoubt
        self.firstAttemptAt = firstAttemptAt
        self.leaseToken = leaseToken
    }
}
