import Foundation

/// Where and how patiently the gateway talks to WeChat Pay.
public struct GatewaySettings: Sendable, Hashable {
    public static let wechatPrimary = "https://api.mch.weixin.qq.com"
    public static let wechatBackup = "https://api2.mch.weixin.qq.com"

    public var primaryURL: String = wechatPrimary
    /// The failover domain; nil turns failover off.
    public var backupURL: String? = wechatBackup
    /// The SDKs use 3–6 s to connect and 5–10 s in all.
    public var connectTimeoutMs: Int64 = 5_000
    public var totalTimeoutMs: Int64 = 10_000
    /// While on the backup, how often one call probes the primary.
    public var probeIntervalMs: Int64 = 30_000
    /// Connections kept per endpoint; set to the daemon's concurrency (AsyncHTTPClient's default
    /// of 8 would cap a 50 ms upstream at 160 calls/s).
    public var maxConnections: Int = 64
    /// A PEM file of extra CA certificates to trust instead of the system store (for a test server).
    public var caFile: String?

    public init() {}

    /// Checks every field, naming each bad one. `http://` is allowed only for loopback hosts (the fake).
    public func validate() -> [String] {
        var problems: [String] = []
        for (key, url) in [("primary_url", primaryURL), ("backup_url", backupURL)] {
            guard let url else { continue }
            if let problem = Self.problem(with: url) { problems.append("\(key): \(problem)") }
        }
        if connectTimeoutMs <= 0 { problems.append("connect_timeout_ms: must be positive") }
        if totalTimeoutMs < connectTimeoutMs { problems.append("total_timeout_ms: must be at least connect_timeout_ms") }
        if probeIntervalMs <= 0 { problems.append("probe_interval_ms: must be positive") }
        return problems
    }

    static func problem(with url: String) -> String? {
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(),
              let host = components.host, !host.isEmpty else {
            return "\"\(url)\" is not an absolute URL"
        }
        if !(components.path.isEmpty || components.path == "/") { return "\"\(url)\" must not have a path" }
        switch scheme {
        case "https": return nil
        case "http": return isLoopback(host) ? nil : "http:// is allowed only for loopback hosts (the fake); use https://"
        default: return "unsupported scheme \(scheme)"
        }
    }

    static func isLoopback(_ host: String) -> Bool {
        let host = host.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        return host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }
}
