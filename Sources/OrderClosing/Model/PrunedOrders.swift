/// What one prune deleted (or, for a dry run, would delete): finished orders by status, and their
/// `close_attempts` rows.
public struct PrunedOrders: Sendable, Hashable {
    /// Orders by final status (`closed`, `paid`, `failed`); statuses with none are absent.
    public var orders: [OrderStatus: Int]
    public var attempts: Int

    public init(orders: [OrderStatus: Int] = [:], attempts: Int = 0) {
        self.orders = orders.filter { $0.value > 0 }
        self.attempts = attempts
    }

    /// Orders over all statuses.
    public var total: Int { orders.values.reduce(0, +) }

    /// The statuses a prune may delete: finished ones only.
    public static let finishedStatuses: [OrderStatus] = [.closed, .paid, .failed]

    public static func + (lhs: PrunedOrders, rhs: PrunedOrders) -> PrunedOrders {
        PrunedOrders(orders: lhs.orders.merging(rhs.orders, uniquingKeysWith: +), attempts: lhs.attempts + rhs.attempts)
    }

    /// "3 closed, 1 paid" (statuses in lifecycle order), or "none".
    public var byStatus: String {
        let parts = Self.finishedStatuses.compactMap { status in orders[status].map { "\($0) \(status.rawValue)" } }
        return parts.isEmpty ? "none" : parts.joined(separator: ", ")
    }
}
