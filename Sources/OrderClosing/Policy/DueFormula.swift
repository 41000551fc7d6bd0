/// `DuePolicy`'s formula as SQL, for the stores: each dialect's fragments are made here from the
/// policy's terms, so the formula is written once (issue 23). A dialect names its `greatest`
/// (SQLite's two-argument `max`, PostgreSQL's `greatest`) and passes each configured term as it
/// binds it (a placeholder, or a literal).
///
/// | fragment   | SQL                                                               | unit    |
/// |------------|-------------------------------------------------------------------|---------|
/// | `ownDue`   | `(created_at + greatest(timeout_seconds, minAge) + margin) * 1000` | unix ms |
/// | `due`      | `greatest(next_attempt_ms, ownDue)`: a retry may come later        | unix ms |
/// | `floor`    | `created_at + greatest(timeout_seconds, 300)`                      | unix s  |
///
/// `floor` has WeChat's 300 s and no margin: it is the expression the open-orders index holds
/// (migration 3 of both stores; the generated stored `next_attempt_ms` of migration 1 has the
/// same), so it must stay word for word what those migrations say. It never exceeds `ownDue`,
/// which makes it the indexed lower bound that queries narrow with before `ownDue` filters.
public struct DueFormula: Sendable {
    /// The dialect's two-argument maximum.
    public let greatest: String

    public static let sqlite = DueFormula(greatest: "max")
    public static let postgres = DueFormula(greatest: "greatest")

    public init(greatest: String) { self.greatest = greatest }

    public func ownDue(minAge: String, margin: String) -> String {
        "((created_at + \(greatest)(timeout_seconds, \(minAge)) + \(margin)) * 1000)"
    }

    public func due(minAge: String, margin: String) -> String {
        "\(greatest)(next_attempt_ms, \(ownDue(minAge: minAge, margin: margin)))"
    }

    public var floor: String {
        "created_at + \(greatest)(timeout_seconds, \(DuePolicy.wechatMinimumAge))"
    }
}
