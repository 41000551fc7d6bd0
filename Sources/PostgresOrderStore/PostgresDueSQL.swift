import OrderClosing

/// The one SQL definition of "due" (design.md §2), as `DueSQL` has it for SQLite:
/// `created_at + max(timeout_seconds, min_age) + margin`, or a later retry time, in unix ms.
/// `next_attempt_ms` (the 300 s floor, no margin) never exceeds it and is the indexed lower bound:
/// queries take the range `next_attempt_ms <= now`, then this expression filters it.
struct PostgresDueSQL {
    let policy: DuePolicy

    /// The due-time expression, its policy values bound in `statement`.
    func due(in statement: inout PostgresStatement) -> String {
        let (minAge, margin) = (statement.bind(policy.minAgeSeconds), statement.bind(policy.marginSeconds))
        return DueFormula.postgres.due(minAge: "\(minAge)::bigint", margin: "\(margin)::bigint")
    }

    /// The order's own due time, whatever its retry time (overdue).
    func ownDue(in statement: inout PostgresStatement) -> String {
        let (minAge, margin) = (statement.bind(policy.minAgeSeconds), statement.bind(policy.marginSeconds))
        return DueFormula.postgres.ownDue(minAge: "\(minAge)::bigint", margin: "\(margin)::bigint")
    }

    /// `AND …` over merchants and circuits. Arrays keep the statement text the same whatever their
    /// length, so PostgreSQL plans it once per shape.
    static func filter(
        excludedMerchants: Set<String>, excludedCircuits: Set<CircuitKey>, onlyMerchant: String?,
        in statement: inout PostgresStatement
    ) -> String {
        var sql = ""
        if let onlyMerchant {
            sql += " AND mch_id = \(statement.bind(onlyMerchant))::text"
        }
        if !excludedMerchants.isEmpty {
            sql += " AND mch_id <> ALL(\(statement.bind(excludedMerchants.sorted()))::text[])"
        }
        if !excludedCircuits.isEmpty {
            let keys = excludedCircuits.sorted()
            let merchants = statement.bind(keys.map(\.mchID))
            let subs = statement.bind(keys.map { $0.subMchID ?? "" })
            sql += " AND (mch_id, coalesce(sub_mch_id, '')) NOT IN (SELECT * FROM unnest(\(merchants)::text[], \(subs)::text[]))"
        }
        return sql
    }
}
