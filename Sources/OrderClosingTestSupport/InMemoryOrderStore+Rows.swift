import NIOConcurrencyHelpers
import OrderClosing

/// The in-memory store's rows read by column name, as a test reads a SQL store's `SELECT *`, so the
/// worker's unit tests check the same columns on the double that the store tests check on a file.
extension InMemoryOrderStore {
    /// The order's row, with the SQL stores' column names (`pending_orders`).
    public func row(_ outTradeNo: String) throws -> FieldRow? {
        state.withLockedValue { state in
            state.rows.first { $0.outTradeNo == outTradeNo }.map { FieldRow(Self.fields($0)) }
        }
    }

    /// The order's audit rows, oldest first, with the SQL stores' column names (`close_attempts`).
    public func attempts(_ outTradeNo: String) throws -> [FieldRow] {
        state.withLockedValue { state in
            guard let row = state.rows.first(where: { $0.outTradeNo == outTradeNo }) else { return [] }
            return state.audit.filter { $0.orderID == row.id }.map { FieldRow(Self.fields($0.record, of: row)) }
        }
    }

    /// How many rows have `status`.
    public func count(status: OrderStatus) -> Int {
        state.withLockedValue { state in state.rows.filter { $0.status == status }.count }
    }

    /// The row as the SQL stores' `SELECT *` gives it.
    static func fields(_ row: Row) -> [String: ColumnValue] {
        func text(_ value: String?) -> ColumnValue { value.map(ColumnValue.text) ?? .null }
        func int(_ value: Int64?) -> ColumnValue { value.map(ColumnValue.int) ?? .null }
        return [
            "id": .int(row.id), "mch_id": .text(row.mchID), "appid": .text(row.appID), "out_trade_no": .text(row.outTradeNo),
            "sub_mch_id": text(row.subMchID), "sub_appid": text(row.subAppID), "created_at": .int(row.createdAt),
            "timeout_seconds": .int(row.timeoutSeconds), "status": .text(row.status.rawValue), "outcome": text(row.outcome),
            "attempts": .int(Int64(row.attempts)), "last_error": text(row.lastError), "last_err_code": text(row.lastErrCode),
            "transaction_id": text(row.transactionID), "in_doubt": .int(row.inDoubt ? 1 : 0), "conflict": text(row.conflict),
            "first_attempt_ms": int(row.firstAttemptMs), "last_attempt_ms": int(row.lastAttemptMs),
            "finished_ms": int(row.finishedMs),
            "retry_at_ms": int(row.retryAtMs), "lease_owner": text(row.leaseOwner), "lease_token": text(row.leaseToken),
            "lease_expires_ms": int(row.leaseExpiresMs), "next_attempt_ms": .int(row.nextAttemptMs),
        ]
    }

    /// An audit row as the SQL stores' `close_attempts` holds it.
    static func fields(_ attempt: AttemptRecord, of row: Row) -> [String: ColumnValue] {
        func text(_ value: String?) -> ColumnValue { value.map(ColumnValue.text) ?? .null }
        let response = attempt.response
        return [
            "order_id": .int(row.id), "mch_id": .text(row.mchID), "out_trade_no": .text(row.outTradeNo),
            "attempt": .int(Int64(attempt.attempt)), "operation": .text(attempt.call.rawValue),
            "started_ms": .int(attempt.startedAt),
            "finished_ms": .int(attempt.finishedAt), "duration_ms": .int(attempt.finishedAt - attempt.startedAt),
            "endpoint": text(attempt.endpoint), "http_status": response.httpStatus.map { .int(Int64($0)) } ?? .null,
            "return_code": text(response.returnCode), "return_msg": text(response.returnMsg),
            "result_code": text(response.resultCode),
            "err_code": text(response.errCode), "err_code_des": text(response.errCodeDes),
            "outcome": .text(attempt.outcome.rawValue),
            "error": text(attempt.error), "verified": .int(response.verified ? 1 : 0),
        ]
    }

    /// Inserts an order under another app id, as a merchant's misconfigured app would.
    public func insert(
        _ outTradeNo: String, createdAt: Int64, timeout: Int64 = 0, mchID: String = StoreFixtureDefaults.mchID,
        appID: String
    ) throws {
        state.withLockedValue { state in
            state.lastID += 1
            state.rows.append(
                Row(
                    id: state.lastID, mchID: mchID, appID: appID, outTradeNo: outTradeNo, subMchID: nil, subAppID: nil,
                    createdAt: createdAt, timeoutSeconds: timeout))
        }
    }
}

/// One row by column name. Reading a column the row does not have is a test's typo, and stops it.
public struct FieldRow: Sendable, Hashable {
    public let fields: [String: ColumnValue]

    public init(_ fields: [String: ColumnValue]) { self.fields = fields }

    /// The column's value: read as an optional, nil when it is NULL.
    public subscript<Value: FieldConvertible>(_ column: String) -> Value {
        guard let field = fields[column] else { preconditionFailure("no column \(column) in \(fields.keys.sorted())") }
        guard let value = Value(field: field) else { preconditionFailure("column \(column) is \(field), not \(Value.self)") }
        return value
    }
}

/// A Swift type a column's value reads as.
public protocol FieldConvertible {
    init?(field: ColumnValue)
}

extension Optional: FieldConvertible where Wrapped: FieldConvertible {
    public init?(field: ColumnValue) {
        if case .null = field {
            self = .none
            return
        }
        guard let value = Wrapped(field: field) else { return nil }
        self = .some(value)
    }
}

extension String: FieldConvertible {
    public init?(field: ColumnValue) {
        guard case .text(let text) = field else { return nil }
        self = text
    }
}

extension Int64: FieldConvertible {
    public init?(field: ColumnValue) {
        guard case .int(let number) = field else { return nil }
        self = number
    }
}

extension Int: FieldConvertible {
    public init?(field: ColumnValue) {
        guard case .int(let number) = field else { return nil }
        self = Int(number)
    }
}

/// A column's value as a SQL row holds it.
public enum ColumnValue: Sendable, Hashable {
    case null, int(Int64), text(String)
}
