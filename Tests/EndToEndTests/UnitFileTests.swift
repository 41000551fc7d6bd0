import Foundation
import Testing

/// Issue 22, items 1 and 5, on the shipped files (the live tests run them under a real systemd):
/// the daemon reads its config and keys where the unit's `LoadCredential=` takes them from, so a
/// reload sees a replaced key; and the start limit never locks out an operator fixing the config.
struct UnitFileTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static func lines(_ path: String) throws -> [String] {
        try String(contentsOf: repository.appendingPathComponent(path), encoding: .utf8)
            .split(separator: "\n").map(String.init).filter { !$0.hasPrefix("#") }
    }

    static func value(_ key: String, in lines: [String]) -> [String] {
        lines.filter { $0.hasPrefix(key + "=") }.map { String($0.dropFirst(key.count + 1)) }
    }

    @Test func theDaemonReadsTheConfigAndKeysFromTheUnitsSourcesNotFromStartTimeCopies() throws {
        let unit = try Self.lines("systemd/closeorderd.service")
        let execStart = try #require(Self.value("ExecStart", in: unit).first)
        #expect(!execStart.contains("%d"), "the config is a start-time copy under \\$CREDENTIALS_DIRECTORY: \(execStart)")
        let words = execStart.split(separator: " ").map(String.init)
        let config = try #require(words.firstIndex(of: "--config").map { words[$0 + 1] })
        // CredentialFiles: keys_FILE is keys/FILE beside the config, the folder LoadCredential=keys: names.
        let keysFolder = URL(fileURLWithPath: config).deletingLastPathComponent().appendingPathComponent("keys").path
        #expect(
            Self.value("LoadCredential", in: unit).contains("keys:\(keysFolder)"), "\(Self.value("LoadCredential", in: unit))")
        // The daemon's user can read them: tmpfiles.d gives config.json its group and keys/ to it.
        let tmpfiles = try Self.lines("packaging/closeorderd.tmpfiles")
        #expect(tmpfiles.contains("z \(config) 0640 root closeorderd -"), "\(tmpfiles)")
        #expect(tmpfiles.contains("z \(keysFolder) 0700 closeorderd closeorderd -"), "\(tmpfiles)")
    }

    @Test func anOperatorRestartingEveryFewSecondsIsNeverLockedOut() throws {
        let unit = try Self.lines("systemd/closeorderd.service")
        let burst = try #require(Self.value("StartLimitBurst", in: unit).first.flatMap { Int($0) })
        let interval = try #require(Self.value("StartLimitIntervalSec", in: unit).first.flatMap { Int($0) })
        // Eight starts in a row (fixing a config, a start taking a few seconds) stay within the limit…
        #expect(burst >= 8 && interval <= 60, "StartLimitBurst=\(burst) in \(interval) s")
        // …while a crash loop (RestartSec=5s) still ends in a failed unit.
        #expect(interval / 5 >= burst, "a crash loop 5 s apart never reaches \(burst) starts in \(interval) s")
    }
}
