import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

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

    /// Checks every field, naming each bad one; see `problem(with:)` for the endpoint URLs.
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

    /// Why `url` cannot be an endpoint, or nil. The URL is parsed, never prefix-matched: the API
    /// path is appended to it, so it is a scheme, a host and an optional port, nothing else.
    ///
    /// | part | allowed |
    /// |---|---|
    /// | scheme | `https`; `http` only for a loopback host (the fake) |
    /// | host | letters, digits, `.`, `-`, or an IP literal; loopback = an IP in 127.0.0.0/8, `::1`, or `localhost` |
    /// | user name / password | never (a password must not sit in a config or reach a message) |
    /// | path | empty or `/` |
    /// | query, fragment | never (`?x=` would become `/?x=/pay/closeorder`) |
    static func problem(with url: String) -> String? {
        // A URL with userinfo is never echoed: the part before the @ may be a password.
        let shown = url.contains("@") ? "the URL" : "\"\(url)\""
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(),
            let host = components.percentEncodedHost, !host.isEmpty
        else {
            return "\(shown) is not an absolute URL (scheme://host[:port])"
        }
        if components.percentEncodedUser != nil || components.percentEncodedPassword != nil {
            return "the URL must not contain a user name or password (user@host)"
        }
        if components.percentEncodedQuery != nil {
            return "\(shown) must not have a query (?…): the API path is appended to the URL"
        }
        if components.percentEncodedFragment != nil { return "\(shown) must not have a fragment (#…)" }
        if !(components.percentEncodedPath.isEmpty || components.percentEncodedPath == "/") {
            return "\(shown) must not have a path (the API path is appended to scheme://host[:port])"
        }
        let hostCharacters = host.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0)
                || ".-:[]".unicodeScalars.contains($0)
        }
        guard hostCharacters else { return "\(shown) does not have a valid host name" }
        switch scheme {
        case "https":
            return nil
        case "http":
            // The wording is pinned by FailoverStateTests; the README names the loopback hosts.
            return isLoopback(host) ? nil : "http:// is allowed only for loopback hosts (the fake); use https://"
        default:
            return "\(shown): unsupported scheme \(scheme); use https://"
        }
    }

    /// An IP in 127.0.0.0/8, `::1` (in any spelling), or exactly `localhost`. Names that merely
    /// start with `127.` (`127.0.0.1.nip.io`) resolve wherever their owner likes.
    static func isLoopback(_ host: String) -> Bool {
        var name = host.lowercased()
        if name.hasPrefix("["), name.hasSuffix("]") { name = String(name.dropFirst().dropLast()) }
        if name == "localhost" { return true }
        var v4 = in_addr()
        if inet_pton(AF_INET, name, &v4) == 1 { return UInt32(bigEndian: v4.s_addr) >> 24 == 127 }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, name, &v6) == 1 {
            return withUnsafeBytes(of: &v6) { Array($0) } == Array(repeating: 0, count: 15) + [1]
        }
        return false
    }
}
