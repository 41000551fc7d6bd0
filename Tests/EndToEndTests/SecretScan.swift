import Foundation
import GRDB
import Testing

/// R5: greps everything a run leaves behind — every log file, `status --json`, and every table —
/// for the merchants' keys and every sign the fake received. Expects 0 hits.
enum SecretScan {
    static func assertClean(world: EndToEndWorld, extraText: [String]) throws {
        var haystacks: [(String, String)] = extraText.enumerated().map { ("text \($0.offset)", $0.element) }
        let files = try FileManager.default.contentsOfDirectory(atPath: world.directory.path).filter { $0.hasSuffix(".log") }
        for file in files {
            haystacks.append((file, try String(contentsOfFile: world.directory.appendingPathComponent(file).path, encoding: .utf8)))
        }
        haystacks.append(("status --json", try EndToEndWorld.runCLI(["status", "--config", world.configPath, "--json"]).output))
        let pool = try world.merchantDatabase()
        let dump = try pool.read { db -> String in
            let tables = try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table'")
            return try tables.map { table in
                try Row.fetchAll(db, sql: "SELECT * FROM \(table)").map { $0.description }.joined(separator: "\n")
            }.joined(separator: "\n")
        }
        haystacks.append(("database", dump))
        let needles = world.keys.values.map { ("key", $0) } + world.fake.calls.compactMap { $0.sign }.map { ("sign", $0) }
        var hits: [String] = []
        for (name, text) in haystacks {
            for (kind, needle) in needles where text.contains(needle) { hits.append("\(kind) found in \(name)") }
        }
        #expect(hits.isEmpty, "\(hits.prefix(5))")
        #expect(needles.count > world.keys.count, "no signs to look for: the scan would prove nothing")
    }
}
