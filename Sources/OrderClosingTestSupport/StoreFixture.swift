import OrderClosing

/// What the store conformance suite needs besides the `OrderStore` itself: the merchant's side
/// (insert, mark paid) and a look at the rows. Every store adapter provides one. The methods are
/// async so an adapter whose merchant side is another process (psql for PostgreSQL) waits for it
/// off Swift's small cooperative pool; the SQLite and in-memory ones satisfy them synchronously.
public protocol StoreFixture: Sendable {
    var store: any OrderStore { get }
    /// Inserts an order as the merchant's app would.
    func insert(_ outTradeNo: String, createdAt: Int64, timeout: Int64, mchID: String, subMchID: String?) async throws
    /// The merchant's "mark paid" statement from the README.
    func markPaid(_ outTradeNo: String, mchID: String) async throws
    func stored(_ outTradeNo: String) async throws -> StoredOrder?
    func audit(_ outTradeNo: String) async throws -> [StoredAttempt]
    func published(_ key: String) async throws -> String?
    func remove()
}

public enum StoreFixtureDefaults {
    public static let mchID = "1900000109"
    public static let appID = "wx2421b1c4370ec43b"
    /// The suites' order creation time (unix seconds) and when such an order is due (unix ms).
    public static let created: Int64 = 1_800_000_000
    public static let dueMs = DuePolicy.standard.dueTime(createdAt: created, timeoutSeconds: 0)
}

extension StoreFixture {
    /// `insert` with the defaults (named apart, so a concrete fixture's own helpers keep their names).
    public func place(
        _ outTradeNo: String, createdAt: Int64, timeout: Int64 = 0, mchID: String = StoreFixtureDefaults.mchID,
        subMchID: String? = nil
    ) async throws {
        try await insert(outTradeNo, createdAt: createdAt, timeout: timeout, mchID: mchID, subMchID: subMchID)
    }

    /// `markPaid` for the default merchant.
    public func markPaidByApp(_ outTradeNo: String) async throws {
        try await markPaid(outTradeNo, mchID: StoreFixtureDefaults.mchID)
    }
}

/// A row as the conformance suite sees it.
public struct StoredOrder: Sendable, Hashable {
    public let status: OrderStatus
    public let attempts: Int
    public let inDoubt: Bool
    public let leaseOwner: String?
    public let outcome: String?
    public let lastError: String?
    public let lastErrCode: String?
    public let conflict: String?
    public let transactionID: String?
    public let nextAttemptMs: Int64

    public init(
        status: OrderStatus, attempts: Int, inDoubt: Bool, leaseOwner: String?, outcome: String?, lastError: String?,
        lastErrCode: String?, conflict: String?, transactionID: String?, nextAttemptMs: Int64
    ) {
        self.status = status
        self.attempts = attempts
        self.inDoubt = inDoubt
        self.leaseOwner = leaseOwner
        self.outcome = outcome
        self.lastError = lastError
        self.lastErrCode = lastErrCode
        self.conflict = conflict
        self.transactionID = transactionID
        self.nextAttemptMs = nextAttemptMs
    }
}

/// An audit row as the conformance suite sees it.
public struct StoredAttempt: Sendable, Hashable {
    public let errCode: String?
    public let returnCode: String?
    /// nil for rows written before the column existed.
    public let verified: Bool?

    public init(errCode: String?, returnCode: String?, verified: Bool?) {
        self.errCode = errCode
        self.returnCode = returnCode
        self.verified = verified
    }
}
