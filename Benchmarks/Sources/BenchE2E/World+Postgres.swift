import Foundation

extension World {
    /// A daemon's config for the PostgreSQL store: the same merchants, keys, fake and settings as
    /// `writeConfig()` (the daemon's defaults, log level `warning`), with `database.url` instead of
    /// a path. With `metricsPort`, its Prometheus endpoint on loopback, so the driver can read how
    /// many calls each of several daemons made. Returns the file's path.
    func writePostgresConfig(url: String, name: String, metricsPort: Int?) throws -> String {
        var merchants: [String] = []
        for (index, mchID) in Self.merchants.enumerated() {
            let keyPath = directory + "/\(mchID).key"
            FileManager.default.createFile(atPath: keyPath, contents: Data((keys[mchID]! + "\n").utf8), attributes: [.posixPermissions: 0o600])
            merchants.append("""
                "\(mchID)": { "appids": ["\(Self.appID)"], "sign_type": "\(index == 0 ? "HMAC-SHA256" : "MD5")",
                              "key_file": "\(keyPath)", "rate_per_second": 100000, "burst": 100000 }
                """)
        }
        let metrics = metricsPort.map { "\"metrics\": { \"enabled\": true, \"host\": \"127.0.0.1\", \"port\": \($0) }," } ?? ""
        let config = """
            {
              "database": { "url": "\(url)" },
              "wechatpay": { "primary_url": "\(server.baseURL)", "failover": false },
              \(metrics)
              "shutdown": { "grace_ms": 5000 },
              "log": { "format": "logfmt", "level": "warning" },
              "merchants": { \(merchants.joined(separator: ",\n")) }
            }
            """
        let path = directory + "/config-\(name).json"
        FileManager.default.createFile(atPath: path, contents: Data(config.utf8), attributes: [.posixPermissions: 0o600])
        return path
    }
}
