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
    public let sql = "max(next_attempt_ms, (created_at + max(timeout_seconds, ?) + ?) * 1000)"

    public var arguments: StatementArguments { [policy.minAgeSeconds, policy.marginSeconds] }
}
