import GRDB
import OrderClosing

/// The one SQL definition of "due" (design.md §2): `created_at + max(timeout_seconds, min_age) +
/// margin`, or a later retry time. Claims, the next-due probe, the heartbeat, `status` and `list`
/// all use it, so none of them can disagree about which orders are due.
///
/// The stored `next_attempt_ms` column (migration 1) computes the same with WeChat's 300 s floor
/// and no margin. It never exceeds the real due time, so it serves as the indexed lower bound:
/// queries take the index range `next_attempt_ms <= now`, then this expression filters it.
public struct DueSQL: Sendable {
    public let policy: DuePolicy

    public init(_ policy: DuePolicy) { self.policy = policy }

    /// Unix ms; binds `arguments`.
    public let sql = DueFormula.sqlite.due(minAge: "?", margin: "?")

    public var arguments: StatementArguments { [policy.minAgeSeconds, policy.marginSeconds] }
}

/// Overdue: not yet decided (pending or closing) and past the order's own due time, whatever its
/// retry time. The index of migration 3 on `created_at + max(timeout_seconds, 300)` over open rows
/// keeps this a range scan, so the heartbeat stays cheap with a million scheduled orders.
public enum OverdueSQL {
    static let open = "status IN ('pending', 'closing') AND \(DueFormula.sqlite.floor) <= ?"
    static let ownDue = DueFormula.sqlite.ownDue(minAge: "?", margin: "?")

    /// One row: `overdue` (count) and `oldest` (its due time, unix ms).
    public static let summary = """
        SELECT count(*) AS overdue, min(\(ownDue)) AS oldest FROM pending_orders
        WHERE \(open) AND \(ownDue) <= ?
        """

    public static func arguments(_ policy: DuePolicy, now: Int64) -> StatementArguments {
        [policy.minAgeSeconds, policy.marginSeconds, now / 1000, policy.minAgeSeconds, policy.marginSeconds, now]
    }
}
