import FakeWeChatPay
import Foundation
import WeChatPayV2
import WeChatPayV3

/// Which WeChat Pay API the run's two merchants use.
public enum BenchAPI: String, Sendable {
    /// P1's merchants: one HMAC-SHA256, one MD5.
    case v2
    /// Both on API v3 in public-key mode (RSA-2048 request signatures, `FakeV3Keys.merchant`).
    case v3
}

/// One run's surroundings, whatever the store: a folder with the daemons' configs and key files,
/// and the fake WeChat Pay served from this process on loopback (one NIO thread, so its CPU is
/// this process's `NIO-ELT` thread), treating unknown orders as unpaid (NOTPAY: closable).
open class BenchWorld: @unchecked Sendable {
    public static let merchants = ["1900000109", "1900000110"]
    public static let appID = "wx2421b1c4370ec43b"
    /// The v3 merchants' API certificate serial (not secret; the fake checks it).
    public static let v3Serial = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"

    public let directory: String
    public let api: BenchAPI
    public let keys: [String: String]
    public let fake: FakeWeChatPay
    public let server: FakeWeChatPayServer

    public init(directory: String, latencyMs: Int = 0, api: BenchAPI = .v2) async throws {
        try? FileManager.default.removeItem(atPath: directory)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        self.directory = directory
        self.api = api
        var keys: [String: String] = [:]
        for mchID in Self.merchants { keys[mchID] = Nonce.make() }
        self.keys = keys
        fake = FakeWeChatPay(merchants: try keys.map { FakeMerchant(mchID: $0.key, key: try APIKey($0.value), appIDs: [Self.appID]) },
                             unknownOrders: .notPay, now: { Date().timeIntervalSince1970 })
        fake.latency = .milliseconds(latencyMs)
        if api == .v3 {
            for mchID in Self.merchants {
                fake.addV3Merchant(FakeV3Merchant(mchID: mchID, serialNo: Self.v3Serial, publicKey: FakeV3Keys.merchant.publicKey))
            }
        }
        server = FakeWeChatPayServer(fake: fake, threads: 1)
        try await server.start()
    }

    /// Writes a daemon's config to `path` (0600): the daemon's defaults, as an operator runs it,
    /// except log level `warning` (a line per close would measure the log sink) and the merchants'
    /// rate limits out of the way. `database` is the `database` object; `sections` are further
    /// `"name": { … }` members.
    public func writeConfig(to path: String, database: String, sections: [String] = []) throws {
        let config = """
            {
              "database": \(database),
              "wechatpay": { "primary_url": "\(server.baseURL)", "failover": false },
              \(sections.map { $0 + "," }.joined(separator: "\n  "))
              "shutdown": { "grace_ms": 5000 },
              "log": { "format": "logfmt", "level": "warning" },
              "merchants": { \(try merchantEntries().joined(separator: ",\n")) }
            }
            """
        _ = FileManager.default.createFile(atPath: path, contents: Data(config.utf8), attributes: [.posixPermissions: 0o600])
    }

    /// The merchants' config entries, their key files written beside (v2: one HMAC-SHA256, one MD5).
    private func merchantEntries() throws -> [String] {
        var merchants: [String] = []
        let v3Files = api == .v3 ? try writeV3Keys() : nil
        for (index, mchID) in Self.merchants.enumerated() {
            if let v3Files {
                merchants.append("""
                    "\(mchID)": { "api": "v3", "appids": ["\(Self.appID)"], "private_key_file": "\(v3Files.privateKey)",
                                  "certificate_serial": "\(Self.v3Serial)", "wechatpay_public_key_file": "\(v3Files.publicKey)",
                                  "wechatpay_public_key_id": "\(fake.v3Identity.publicKeyID)", "rate_per_second": 100000, "burst": 100000 }
                    """)
                continue
            }
            let keyPath = directory + "/\(mchID).key"
            _ = FileManager.default.createFile(atPath: keyPath, contents: Data((keys[mchID]! + "\n").utf8), attributes: [.posixPermissions: 0o600])
            merchants.append("""
                "\(mchID)": { "appids": ["\(Self.appID)"], "sign_type": "\(index == 0 ? "HMAC-SHA256" : "MD5")",
                              "key_file": "\(keyPath)", "rate_per_second": 100000, "burst": 100000 }
                """)
        }
        return merchants
    }

    /// The v3 merchants' API private key and the fake's WeChat Pay public key, as files (0600).
    private func writeV3Keys() throws -> (privateKey: String, publicKey: String) {
        let privateKey = directory + "/apiclient_key.pem", publicKey = directory + "/wechatpay_public_key.pem"
        _ = FileManager.default.createFile(atPath: privateKey, contents: Data(FakeV3Keys.merchant.pkcs8PEM.utf8), attributes: [.posixPermissions: 0o600])
        _ = FileManager.default.createFile(atPath: publicKey, contents: Data(fake.v3Identity.publicKeyPEM.utf8), attributes: [.posixPermissions: 0o600])
        return (privateKey, publicKey)
    }

    /// Whether `call` is one of this world's closes (v2 `pay/closeorder`, v3 `…/close`).
    public func isClose(_ call: FakeCall) -> Bool {
        api == .v2 ? call.path == "/pay/closeorder" : call.path.hasPrefix("/v3/") && call.path.hasSuffix("/close")
    }

    public func shutdown() async {
        try? await server.shutdown()
    }
}
