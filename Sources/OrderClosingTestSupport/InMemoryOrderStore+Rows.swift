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
    public let fields: [String: FieldValue]

    public init(_ fields: [String: FieldValue]) { self.fields = fields }

    /// The column's value: read as an optional, nil when it is NULL.
    public subscript<Value: FieldConvertible>(_ column: String) -> Value {
        guard let field = fields[column] else { preconditionFailure("no column \(column) in \(fields.keys.sorted())") }
        guard let value = Value(field: field) else { preconditionFailure("column \(column) is \(field), not \(Value.self)") }
        return value
    }
}

/// A Swift type a column's value reads as.
public protocol FieldConvertible {
    init?(field: FieldValue)
}

extension Optional: FieldConvertible where Wrapped: FieldConvertible {
    public init?(field: FieldValue) {
        if case .null = field {
            self = .none
            return
        }
        guard let value = Wrapped(field: field) else { return nil }
        self = .some(value)
    }
}

extension String: FieldConvertible {
    public init?(field: FieldValue) {
        guard case .text(let text) = field else { return nil }
        self = text
    }
}

extension Int64: FieldConvertible {
    public init?(field: FieldValue) {
        guard case .int(let number) = field else { return nil }
        self = number
    }
}

extension Int: FieldConvertible {
    public init?(field: FieldValue) {
        guard case .int(let number) = field else { return nil }
        self = Int(number)
    }
}
