import FakeWeChatPay
import Foundation
import GRDB
import Testing

/// R5: greps everything a run leaves behind — every log file, `status --json`, and every table —
/// for the merchants' keys and every sign the fake received. Expects 0 hits.
enum SecretScan {
    static func assertClean(world: EndToEndWorld, extraText: [String]) async throws {
        var haystacks: [(String, String)] = extraText.enumerated().map { ("text \($0.offset)", $0.element) }
        let files = try FileManager.default.contentsOfDirectory(atPath: world.directory.path).filter { $0.hasSuffix(".log") }
        for file in files {
            haystacks.append(
                (file, try String(contentsOfFile: world.directory.appendingPathComponent(file).path, encoding: .utf8)))
        }
        haystacks.append(
            ("status --json", try await EndToEndWorld.runCLI(["status", "--config", world.configPath, "--json"]).output))
        let pool = try world.merchantDatabase()
        let dump = try await pool.read { db -> String in
            let tables = try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table'")
            return try tables.map { table in
                try Row.fetchAll(db, sql: "SELECT * FROM \(table)").map { $0.description }.joined(separator: "\n")
            }.joined(separator: "\n")
        }
        haystacks.append(("database", dump))
        let needles = world.keys.values.map { ("key", $0) } + world.fake.calls.compactMap { $0.sign }.map { ("sign", $0) }
        var hits: [String] = []
        for (name, text) in haystacks {
            let windows = candidateWindows(in: text)
            for (kind, needle) in needles where windows.contains(Substring(needle)) { hits.append("\(kind) found in \(name)") }
        }
        #expect(hits.isEmpty, "\(hits.prefix(5))")
        #expect(needles.count > world.keys.count, "no signs to look for: the scan would prove nothing")
    }

    /// Every 32- and 64-character window of every run of letters and digits: keys and MD5 signs are
    /// 32 characters, HMAC-SHA256 signs 64. A set makes the scan linear in the text, however many
    /// signs a long run produced.
    static func candidateWindows(in text: String) -> Set<Substring> {
        var windows = Set<Substring>()
        var runStart: String.Index?
        var index = text.startIndex
        func closeRun(at end: String.Index) {
            guard let start = runStart else { return }
            let run = text[start..<end]
            for width in [32, 64] where run.count >= width {
                var lower = run.startIndex
                var upper = run.index(lower, offsetBy: width)
                while true {
                    windows.insert(run[lower..<upper])
                    guard upper < run.endIndex else { break }
                    lower = run.index(after: lower)
                    upper = run.index(after: upper)
                }
            }
            runStart = nil
        }
        while index < text.endIndex {
            let character = text[index]
            if character.isASCII && (character.isLetter || character.isNumber) {
                if runStart == nil { runStart = index }
            } else {
                closeRun(at: index)
            }
            index = text.index(after: index)
        }
        closeRun(at: text.endIndex)
        return windows
    }
}

@Suite struct SecretScanSelfTests {
    @Test func findsPlantedKeysAndSignsAndNothingElse() {
        let key = "0123456789abcdefABCDEF0123456789"
        let sign = String(repeating: "A1B2", count: 16)
        let text = "msg=\"x\" string=appid=wx1&key=\(key) sign=\(sign)\n{\"other\":\"\(String(repeating: "z", count: 40))\"}"
        let windows = SecretScan.candidateWindows(in: text)
        #expect(windows.contains(Substring(key)))
        #expect(windows.contains(Substring(sign)))
        #expect(!windows.contains(Substring(String(repeating: "y", count: 32))))
    }
}
