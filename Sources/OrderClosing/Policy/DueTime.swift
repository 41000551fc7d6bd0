/// When an order may be closed: `created_at + max(timeout_seconds, min_age) + margin`.
///
/// WeChat forbids closing an order younger than 5 minutes, so `minAge` can be raised but never
/// lowered below 300 s, not even for the demo.
public struct DuePolicy: Sendable, Hashable {
    public static let wechatMinimumAge: Int64 = 300

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
        guard marginSeconds >= 0 else { throw PolicyError("the due-time margin must not be negative, got \(marginSeconds)") }
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
