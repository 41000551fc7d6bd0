/// One order and its attempts, as `closeorderd show` prints them: every column of its
/// `pending_orders` row and of its `close_attempts` rows (oldest first), typed. Each store fills
/// it from its columns; the shell formats it, so no module passes column names around.
public struct OrderDetail: Sendable, Hashable {
    /// A `pending_orders` row (design.md §1). Times the merchant writes are unix seconds, the
    /// daemon's unix ms.
    public struct Order: Sendable, Hashable {
        public var id: Int64
        public var mchID: String
        public var appID: String
        public var outTradeNo: String
        public var subMchID: String?
        public var subAppID: String?
        /// Unix seconds.
        public var createdAt: Int64
        public var timeoutSeconds: Int64
        public var status: OrderStatus
        /// What WeChat answered, for a decided order: `closed`, `already_closed`, `not_exist`, `paid`.
        public var outcome: AuditOutcome?
        /// Calls that reached WeChat.
        public var attempts: Int
        public var lastError: String?
        public var lastErrCode: String?
        public var transactionID: String?
        public var inDoubt: Bool
        public var conflict: String?
        public var firstAttemptMs: Int64?
        public var lastAttemptMs: Int64?
        public var finishedMs: Int64?
        public var retryAtMs: Int64?
        public var leaseOwner: String?
        public var leaseToken: String?
        public var leaseExpiresMs: Int64?
        /// The index's lower bound for due (migration 1's generated column).
        public var nextAttemptMs: Int64

        public init(
            id: Int64, mchID: String, appID: String, outTradeNo: String, subMchID: String?, subAppID: String?,
            createdAt: Int64, timeoutSeconds: Int64, status: OrderStatus, outcome: AuditOutcome?, attempts: Int,
            lastError: String?, lastErrCode: String?, transactionID: String?, inDoubt: Bool, conflict: String?,
            firstAttemptMs: Int64?, lastAttemptMs: Int64?, finishedMs: Int64?, retryAtMs: Int64?, leaseOwner: String?,
            leaseToken: String?, leaseExpiresMs: Int64?, nextAttemptMs: Int64
        ) {
            self.id = id
            self.mchID = mchID
            self.appID = appID
            self.outTradeNo = outTradeNo
            self.subMchID = subMchID
            self.subAppID = subAppID
            self.createdAt = createdAt
            self.timeoutSeconds = timeoutSeconds
            self.status = status
            self.outcome = outcome
            self.attempts = attempts
            self.lastError = lastError
            self.lastErrCode = lastErrCode
            self.transactionID = transactionID
            self.inDoubt = inDoubt
            self.conflict = conflict
            self.firstAttemptMs = firstAttemptMs
            self.lastAttemptMs = lastAttemptMs
            self.finishedMs = finishedMs
            self.retryAtMs = retryAtMs
            self.leaseOwner = leaseOwner
            self.leaseToken = leaseToken
            self.leaseExpiresMs = leaseExpiresMs
            self.nextAttemptMs = nextAttemptMs
        }
    }

    /// A `close_attempts` row: one call to WeChat Pay.
    public struct Attempt: Sendable, Hashable {
        public var id: Int64
        public var orderID: Int64
        public var mchID: String
        public var outTradeNo: String
        public var attempt: Int
        public var call: AttemptRecord.Call
        public var startedMs: Int64
        public var finishedMs: Int64
        public var endpoint: String?
        public var httpStatus: Int?
        public var returnCode: String?
        public var returnMsg: String?
        public var resultCode: String?
        public var errCode: String?
        public var errCodeDes: String?
        public var outcome: AuditOutcome
        public var error: String?
        /// Whether the answer's signature was checked; nil in rows written before schema 2.
        public var verified: Bool?

        /// The `duration_ms` column: generated from the two times.
        public var durationMs: Int64 { finishedMs - startedMs }

        public init(
            id: Int64, orderID: Int64, mchID: String, outTradeNo: String, attempt: Int, call: AttemptRecord.Call,
            startedMs: Int64, finishedMs: Int64, endpoint: String?, httpStatus: Int?, returnCode: String?,
            returnMsg: String?, resultCode: String?, errCode: String?, errCodeDes: String?, outcome: AuditOutcome,
            error: String?, verified: Bool?
        ) {
            self.id = id
            self.orderID = orderID
            self.mchID = mchID
            self.outTradeNo = outTradeNo
            self.attempt = attempt
            self.call = call
            self.startedMs = startedMs
            self.finishedMs = finishedMs
            self.endpoint = endpoint
            self.httpStatus = httpStatus
            self.returnCode = returnCode
            self.returnMsg = returnMsg
            self.resultCode = resultCode
            self.errCode = errCode
            self.errCodeDes = errCodeDes
            self.outcome = outcome
            self.error = error
            self.verified = verified
        }
    }

    public let order: Order
    public let attempts: [Attempt]

    public init(order: Order, attempts: [Attempt]) {
        self.order = order
        self.attempts = attempts
    }

    /// A column's word as its type (`status`, `outcome`, `operation`): the schema's CHECKs and
    /// triggers allow no other, so one that is not known means a schema closeorderd does not know.
    public static func word<Word: RawRepresentable<String>>(_ text: String, column: String) throws -> Word {
        guard let word = Word(rawValue: text) else { throw UnknownWord(column: column, text: text) }
        return word
    }

    /// A word in a column that closeorderd does not know (a newer schema, a hand-made table).
    public struct UnknownWord: Error, CustomStringConvertible {
        public let column: String
        public let text: String
        public var description: String { "\(column) holds \"\(text)\", which this closeorderd does not know" }
    }
}
