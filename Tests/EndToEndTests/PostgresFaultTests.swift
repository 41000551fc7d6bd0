import Foundation
import Testing

/// `run` on a PostgreSQL URL nothing answers at (issue 22.7): a worded error within seconds, not
/// a minute of silence and `connectionCreationCircuitBreakerTripped`. Needs no server.
@Suite struct PostgresFaultTests {
    @Test func runWithAWrongPortSaysConnectionRefusedWithinSeconds() async throws {
        let folder = try CLIHarness.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let port = try ReservedPort()
        let config = CLIHarness.config(in: folder)
        var text = try String(contentsOf: config, encoding: .utf8)
        text = text.replacingOccurrences(
            of: "\"path\": \"\(folder.path)/orders.sqlite\"",
            with: "\"url\": \"postgresql://closeorderd@127.0.0.1:\(port.port)/shop?sslmode=disable\"")
        CLIHarness.write(text, to: config)
        // The daemon waits for the database (a server still starting at boot must not use up the
        // unit's start limit), saying why within seconds; the harness stops it with SIGTERM after
        // 30 s. The probe's bound is 5 s; the rest is starting a process on a loaded machine, which
        // took 12 s in one full run (the pool, before, said nothing for 67 s).
        let run = try await CLIHarness.run(["run", "--config", config.path], timeout: 30)
        withExtendedLifetime(port) {}
        #expect(run.status != 0, "\(run.output)")
        #expect(run.output.contains("connection refused: nothing listens on 127.0.0.1:\(port.port)"), "\(run.output)")
        #expect(
            run.output.contains(
                "waiting for the database: cannot connect to the PostgreSQL database postgresql://closeorderd@127.0.0.1"),
            "the cause is not in MESSAGE: \(run.output)")
        #expect(
            run.output.components(separatedBy: "waiting for the database:").count == 2, "the same cause said twice: \(run.output)"
        )
    }

    /// `check-config --online` tries the database too: a wrong port is an error in words, exit 1.
    @Test func checkConfigOnlineSaysTheDatabaseRefused() async throws {
        let folder = try CLIHarness.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let port = try ReservedPort()
        let config = CLIHarness.config(in: folder)
        var text = try String(contentsOf: config, encoding: .utf8)
        text = text.replacingOccurrences(
            of: "\"path\": \"\(folder.path)/orders.sqlite\"",
            with: "\"url\": \"postgresql://closeorderd@127.0.0.1:\(port.port)/shop?sslmode=disable\"")
        CLIHarness.write(text, to: config)
        let run = try await CLIHarness.run(["check-config", "--online", "--config", config.path], timeout: 30)
        withExtendedLifetime(port) {}
        #expect(run.status == 1, "\(run.output)")
        #expect(run.output.contains("database postgresql://closeorderd@127.0.0.1:\(port.port)/shop"), "\(run.output)")
        #expect(run.output.contains("FAILED: cannot connect to the PostgreSQL database"), "\(run.output)")
        #expect(run.output.contains("connection refused: nothing listens on 127.0.0.1:\(port.port)"), "\(run.output)")
        #expect(run.output.contains("check-config: the database failed the online check"), "\(run.output)")
    }
}
