import Foundation
import Testing

/// Issue 22, items 4 and 11: `check-config` (and `check-config --online`, `fake-wechatpay`) from
/// root's shell, outside the unit, with the shipped config's `key_credential` names; and the files
/// that decide trust, checked for who may write them.
@Suite struct CLICredentialTests {
    /// The unit's layout: config.json and keys/ side by side, keys named as credentials.
    static func unitLayout(in folder: URL, merchants: [String: String?], extra: String = "") throws -> URL {
        let keys = folder.appendingPathComponent("keys")
        try FileManager.default.createDirectory(at: keys, withIntermediateDirectories: true)
        var entries: [String] = []
        for (mchID, key) in merchants.sorted(by: { $0.key < $1.key }) {
            if let key { CLIHarness.write(key, to: keys.appendingPathComponent("\(mchID).key")) }
            entries.append("\"\(mchID)\": { \"appids\": [\"wx2421b1c4370ec43b\"], \"key_credential\": \"keys_\(mchID).key\" }")
        }
        let config = folder.appendingPathComponent("config.json")
        CLIHarness.write(
            """
            { "database": { "path": "\(folder.path)/orders.sqlite" },
              "wechatpay": { "primary_url": "http://127.0.0.1:9", "failover": false },
              \(extra.isEmpty ? "" : extra + ",")
              "merchants": { \(entries.joined(separator: ", ")) } }
            """, to: config)
        return config
    }

    @Test func checkConfigOutsideTheUnitReadsKeysCredentialsFromTheirSourceAndNamesIt() async throws {
        let folder = try CLIHarness.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let good = try Self.unitLayout(in: folder, merchants: ["1900000109": "0123456789abcdef0123456789abcdef"])
        let check = try await CLIHarness.run(["check-config", "--config", good.path], environment: ["CREDENTIALS_DIRECTORY": ""])
        #expect(check.status == 0, "\(check.output)")
        #expect(!check.output.contains("CREDENTIALS_DIRECTORY"), "\(check.output)")

        let missing = try Self.unitLayout(
            in: folder, merchants: ["1900000109": "0123456789abcdef0123456789abcdef", "1900000110": nil])
        let refused = try await CLIHarness.run(["check-config", "--config", missing.path])
        #expect(refused.status == 1, "\(refused.output)")
        let source = folder.appendingPathComponent("keys/1900000110.key").path
        #expect(
            refused.output.contains("merchants.1900000110.key_credential: keys_1900000110.key is the file \(source)"),
            "\(refused.output)")
        #expect(refused.output.contains("does not exist"), "\(refused.output)")

        // The fake WeChat Pay reads the same config the same way.
        let fake = try await CLIHarness.run(["fake-wechatpay", "--config", good.path, "--port", "1"], timeout: 5)
        #expect(!fake.output.contains("CREDENTIALS_DIRECTORY"), "\(fake.output)")
    }

    @Test func aCredentialWithoutAKnownSourceSaysWhereItIsLookedFor() async throws {
        let folder = try CLIHarness.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let config = folder.appendingPathComponent("config.json")
        CLIHarness.write(
            """
            { "database": { "path": "\(folder.path)/orders.sqlite" },
              "merchants": { "1900000109": { "appids": ["wx1"], "key_credential": "merchant-key" } } }
            """, to: config)
        let refused = try await CLIHarness.run(["check-config", "--config", config.path])
        #expect(refused.status == 1)
        #expect(
            refused.output.contains(
                "merchants.1900000109.key_credential: merchant-key is read from $CREDENTIALS_DIRECTORY, which is not set"),
            "\(refused.output)")
    }

    @Test func filesOthersMayWriteAreRefused() async throws {
        let folder = try CLIHarness.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        // A CA file every user may write lets any of them stand in for WeChat Pay.
        let ca = folder.appendingPathComponent("ca.pem")
        CLIHarness.write("not checked before its mode", to: ca, mode: 0o666)
        let config = try Self.unitLayout(
            in: folder, merchants: ["1900000109": "0123456789abcdef0123456789abcdef"],
            extra: "\"log\": { \"level\": \"info\" }")
        let withCA = folder.appendingPathComponent("with-ca.json")
        let text = try String(contentsOf: config, encoding: .utf8)
            .replacingOccurrences(of: "\"failover\": false", with: "\"failover\": false, \"ca_file\": \"\(ca.path)\"")
        CLIHarness.write(text, to: withCA)
        let caCheck = try await CLIHarness.run(["check-config", "--config", withCA.path])
        #expect(caCheck.status == 1)
        #expect(
            caCheck.output.contains("wechatpay.ca_file: CA file \(ca.path) is writable by every user (mode 666)"),
            "\(caCheck.output)")

        // A key file its group may write is refused, naming the config key.
        let key = folder.appendingPathComponent("keys/1900000109.key")
        chmod(key.path, 0o620)
        let groupWritable = try await CLIHarness.run(["check-config", "--config", config.path])
        #expect(groupWritable.status == 1)
        #expect(
            groupWritable.output.contains(
                "merchants.1900000109.key_credential: key file \(key.path) is writable by its group (mode 620)"),
            "\(groupWritable.output)")

        // One owned by another user, who could change it.
        chmod(key.path, 0o600)
        if geteuid() == 0 {
            chown(key.path, 4242, 4242)
            let foreign = try await CLIHarness.run(["check-config", "--config", config.path])
            #expect(foreign.status == 1)
            #expect(
                foreign.output.contains("key file \(key.path) belongs to uid 4242, neither root, this user"), "\(foreign.output)")
        }
    }

    @Test func postgresTrustFilesAreCheckedAsKeyFilesAre() async throws {
        let folder = try CLIHarness.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let root = folder.appendingPathComponent("pg-ca.pem")
        CLIHarness.write("-", to: root, mode: 0o646)
        let password = folder.appendingPathComponent("db-password")
        CLIHarness.write("s3cret-pg-pass\n", to: password, mode: 0o622)
        let config = folder.appendingPathComponent("config.json")
        CLIHarness.write(
            """
            { "database": { "url": "postgresql://closeorderd@db.internal/shop?sslmode=verify-full&sslrootcert=\(root.path)",
                            "password_file": "\(password.path)" },
              "merchants": { "1900000109": { "appids": ["wx1"], "key_file": "\(folder.path)/k" } } }
            """, to: config)
        CLIHarness.write("0123456789abcdef0123456789abcdef", to: folder.appendingPathComponent("k"))
        let check = try await CLIHarness.run(["check-config", "--config", config.path])
        #expect(check.status == 1)
        #expect(
            check.output.contains("database.url: CA file (sslrootcert) \(root.path) is writable by every user"), "\(check.output)"
        )
        // The password file is read when the database is opened: refused before any connection.
        chmod(root.path, 0o644)
        let status = try await CLIHarness.run(["status", "--config", config.path], timeout: 30)
        #expect(status.status != 0)
        #expect(
            status.output.contains("database.password_file: password file \(password.path) is writable by every user"),
            "\(status.output)")
        #expect(!status.output.contains("s3cret-pg-pass"))
    }
}
