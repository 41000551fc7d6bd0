/// `pending_orders.status`. The merchant writes `pending` (and may set `paid`); the daemon the rest.
public enum OrderStatus: String, Sendable, Hashable, CaseIterable, Codable {
    case pending, closing, closed, paid, failed

    /// Whether the order is decided for good.
    public var isTerminal: Bool { self == .closed || self == .paid || self == .failed }
}
