/// One order and its attempts, column by column (`closeorderd show`).
public struct OrderDetail: Sendable, Codable {
    public let order: [String: FieldValue]
    public let attempts: [[String: FieldValue]]

    public init(order: [String: FieldValue], attempts: [[String: FieldValue]]) {
        self.order = order
        self.attempts = attempts
    }
}

/// A column value as JSON sees it.
public enum FieldValue: Sendable, Codable, Hashable, CustomStringConvertible {
    case null, int(Int64), double(Double), text(String)

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .int(let value): try container.encode(value)
        case .double(let value): try container.encode(value)
        case .text(let value): try container.encode(value)
        }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Int64.self) {
            self = .int(value)
        } else if let value = try? container.decode(Double.self) {
            self = .double(value)
        } else {
            self = .text(try container.decode(String.self))
        }
    }

    public var description: String {
        switch self {
        case .null: ""
        case .int(let value): String(value)
        case .double(let value): String(value)
        case .text(let value): value
        }
    }
}
