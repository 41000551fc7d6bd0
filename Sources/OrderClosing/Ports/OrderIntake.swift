/// The merchant app's side of `pending_orders` (design.md §2): add unpaid orders, mark one paid.
/// The demo uses it instead of raw SQL; a Swift app could too. Adapters: `SQLiteOrderStore`,
/// `PostgresOrderStore` and the in-memory store of the tests, held to one conformance suite
/// (`OrderIntakeConformanceTests`).
///
/// It writes the same table, through the same constraints, as an app's own `INSERT`: the schema
/// decides what is refused, and the refusal carries the schema's own words.
///
/// | a row that …                       | gets                                              |
/// |------------------------------------|---------------------------------------------------|
/// | passes the schema                  | `.inserted(id:)`, status `pending`                |
/// | breaks a rule (column, range, id)  | `.refused(reason:)`, the schema's message naming  |
/// |                                    |   the column; the batch's other rows still go in  |
/// | — the database is unusable         | the call throws (nothing of the batch is written) |
public protocol OrderIntake: Sendable {
    /// Inserts each order as `pending`, in one transaction; one result per order, in order.
    func insert(_ orders: [NewOrder]) async throws -> [IntakeResult]

    /// The README's "mark paid": sets `paid` while the row is `pending` or `closing` (the app's
    /// write wins over a close in flight); whether a row changed.
    func markPaid(mchID: String, outTradeNo: String) async throws -> Bool
}

/// One unpaid order as the app writes it: the columns design.md §2 gives the merchant. Values are
/// taken as they are; the schema checks them.
public struct NewOrder: Sendable, Hashable {
    public var mchID: String
    public var appID: String
    public var outTradeNo: String
    /// Service-provider mode only; nil otherwise.
    public var subMchID: String?
    public var subAppID: String?
    /// Unix seconds when the order was placed with WeChat Pay.
    public var createdAt: Int64
    /// The order's payment window, 0 … 315,360,000 s.
    public var timeoutSeconds: Int64

    public init(
        mchID: String, appID: String, outTradeNo: String, subMchID: String? = nil, subAppID: String? = nil,
        createdAt: Int64, timeoutSeconds: Int64
    ) {
        self.mchID = mchID
        self.appID = appID
        self.outTradeNo = outTradeNo
        self.subMchID = subMchID
        self.subAppID = subAppID
        self.createdAt = createdAt
        self.timeoutSeconds = timeoutSeconds
    }
}

/// What became of one `NewOrder`.
public enum IntakeResult: Sendable, Hashable {
    /// The row's id.
    case inserted(id: Int64)
    /// The schema's message, which names the column or rule (never a bound value of another row).
    case refused(reason: String)
}
