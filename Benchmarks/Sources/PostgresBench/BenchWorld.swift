import FakeWeChatPay
import Foundation
import WeChatPayV2

/// One run's surroundings: a folder with the daemons' configs and key files, and the fake WeChat
/// Pay served from this process on loopback (one NIO thread, so its CPU is this process's
/// `NIO-ELT` thread), answering at once and treating unknown orders as unpaid (NOTPAY: closable).
final class BenchWorld: @unchecked Sendable {
    static let merchants = ["1900000109", "1900000110"]
    static let appID = "wx2421b1c4370ec43b"

    let directory: String
    let keys: [String: String]
    let fake: FakeWeChatPay
    let server: FakeWeChatPayServer

    init(directory: String) async throws {
        try? FileManager.default.removeItem(atPath: directory)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        self.directory = directory
        var keys: [String: String] = [:]
        for mchID in Self.merchants { keys[mchID] = Nonce.make() }
        self.keys = keys
        fake = FakeWeChatPay(merchants: try keys.map { FakeMerchant(mchID: $0.key, key: try APIKey($0.value), appIDs: [Self.appID]) },
                             unknownOrders: .notPay, now: { Date().timeIntervalSince1970 })
        server = FakeWeChatPayServer(fake: fake, threads: 1)
        try await server.start()
    }

    /// A daemon's config for the PostgreSQL store: the daemon's defaults (as an operator runs it)
    /// except log level `warning` (a line per close would measure the log sink), the merchants'
    /// rate limits out of the way, and `database.url`. With `metricsPort`, its Prometheus endpoint
    /// on loopback, so the driver can read how many calls each of several daemons made.
    func writePostgresConfig(url: String, name: String, metricsPort: Int?) throws -> String {
        var merchants: [String] = []
        for (index, mchID) in Self.merchants.enumerated() {
            let keyPath = directory + "/\(mchID).key"
            _ = FileManager.default.createFile(atPath: keyPath, contents: Data((keys[mchID]! + "\n").utf8), attributes: [.posixPermissions: 0o600])
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
        _ = FileManager.default.createFile(atPath: path, contents: Data(config.utf8), attributes: [.posixPermissions: 0o600])
        return path
    }

    func shutdown() async {
        try? await server.shutdown()
    }
}
