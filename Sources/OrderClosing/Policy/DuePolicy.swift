/// When an order may be closed: `created_at + max(timeout_seconds, min_age) + margin`.
///
/// WeChat forbids closing an order younger than 5 minutes, so `minAge` can be raised but never
/// lowered below 300 s, not even for the demo. Every term is bounded, so the due time (unix ms)
/// of any row the schema admits fits in 64 bits with room to spare: one row can never make a
/// due-time query overflow (issue 21).
///
/// | term              | range                                 | enforced by                             |
/// |-------------------|---------------------------------------|-----------------------------------------|
/// | `created_at`      | 1388534400 ..< 4102444800 (2014–2100) | the schema (SQLite 2, PostgreSQL 1)     |
/// | `timeout_seconds` | 0 ... 315,360,000 (10 years)          | the schema (version 5 of both stores)   |
/// | `min_age`         | 300 ... 86,400                        | this initialiser (and the config)       |
/// | `margin`          | 0 ... 3,600                           | this initialiser (and the config)       |
///
/// Largest due time: (4102444799 + 315360000 + 3600) × 1000 ≈ 4.4 × 10¹² ms, far below 2⁶³ ≈ 9.2 × 10¹⁸.
public struct DuePolicy: Sendable, Hashable {
    public static let wechatMinimumAge: Int64 = 300
    /// The longest payment window a row may have: 10 years. The schema refuses more at INSERT
    /// (migration 5 on both stores spells the same number; a test checks they agree).
    public static let maxTimeoutSeconds: Int64 = 315_360_000
    public static let maxMinAgeSeconds: Int64 = 86_400
    public static let maxMarginSeconds: Int64 = 3_600

    /// Seconds; at least 300.
    public let minAgeSeconds: Int64
    /// Extra seconds on top. `created_at` has whole seconds (an order placed at 12:00:00.999 reads
    /// 12:00:00), and the daemon's, the app's and WeChat's clocks each step by NTP: 5 s covers
    /// the truncation and ordinary skew, so no close lands inside WeChat's 5 minutes.
    public let marginSeconds: Int64
    public static let defaultMarginSeconds: Int64 = 5

    public init(minAgeSeconds: Int64 = wechatMinimumAge, marginSeconds: Int64 = defaultMarginSeconds) throws(PolicyError) {
        guard minAgeSeconds >= Self.wechatMinimumAge else {
            throw PolicyError("min_age must be at least \(Self.wechatMinimumAge) seconds (WeChat's rule), got \(minAgeSeconds)")
        }
        guard minAgeSeconds <= Self.maxMinAgeSeconds else {
            throw PolicyError("min_age must be at most \(Self.maxMinAgeSeconds) seconds, got \(minAgeSeconds)")
        }
        guard marginSeconds >= 0 else { throw PolicyError("the due-time margin must not be negative, got \(marginSeconds)") }
        guard marginSeconds <= Self.maxMarginSeconds else {
            throw PolicyError("the due-time margin must be at most \(Self.maxMarginSeconds) seconds, got \(marginSeconds)")
        }
        self.minAgeSeconds = minAgeSeconds
        self.marginSeconds = marginSeconds
    }

    public static let standard = try! DuePolicy()

    /// Unix ms at which the order falls due.
    public func dueTime(createdAt: Int64, timeoutSeconds: Int64) -> Int64 {
        (createdAt + max(timeoutSeconds, minAgeSeconds) + marginSeconds) * 1000
    }
}

/// A policy value out of range, named.
public struct PolicyError: Error, Sendable, Hashable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
