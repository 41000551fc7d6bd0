import FakeWeChatPay
import Foundation
import GRDB
import Testing

/// `closeorderd watch` (issue 25), the real binary on a WAL SQLite file while the real daemon
/// closes orders against the fake: killed and restarted from the last cursor it printed, it has
/// printed every finished order exactly once.
@Suite(.serialized) struct WatchEndToEndTests {
    @Test func killedAndRestartedFromItsLastCursorItPrintsEveryFinishedOrderOnce() async throws {
        let world = try await EndToEndWorld.start()
        defer { Task { try? await world.shutdown() } }
        let migrate = try await EndToEndWorld.runCLI(["migrate", "--config", world.configPath])
        #expect(migrate.status == 0, "\(migrate.output)")
        let merchant = try world.merchantDatabase()
        let now = Int64(Date().timeIntervalSince1970)
        func wave(_ name: String, _ count: Int) throws -> [String] {
            let names = (0..<count).map { "\(name)-\($0)" }
            try merchant.write { db in
                for (index, outTradeNo) in names.enumerated() {
                    let mchID = index.isMultiple(of: 2) ? EndToEndWorld.mchA : EndToEndWorld.mchB
                    try db.execute(
                        sql:
                            "INSERT INTO pending_orders (mch_id, appid, out_trade_no, created_at, timeout_seconds) VALUES (?, ?, ?, ?, 0)",
                        arguments: [mchID, EndToEndWorld.appID, outTradeNo, now - 400])
                    world.fake.addOrder(
                        mchID: mchID, outTradeNo: outTradeNo, createdAt: Double(now - 400), state: index == 3 ? .paid : .notPay)
                }
            }
            return names
        }
        func undecided() throws -> Int {
            try merchant.read { db in
                try Int.fetchOne(db, sql: "SELECT count(*) FROM pending_orders WHERE status IN ('pending', 'closing')") ?? -1
            }
        }

        var expected = try wave("FIRST", 20)
        let (daemon, _) = try await world.startDaemon()
        let first = try WatchProcess(
            ["watch", "--config", world.configPath, "--from", "start"], log: world.directory.appendingPathComponent("watch-1.log")
        )
        try await waitUntil("the first watcher to print 20 orders", detail: first.stderr + daemon.log.suffix(2000)) {
            first.lines.count >= 20
        }
        first.kill()
        let printedBeforeKill = first.lines
        let resumeFrom = try #require(printedBeforeKill.last.flatMap { WatchProcess.field("cursor", in: $0) })

        // Orders finish while nobody watches, and the app marks one paid itself.
        expected += try wave("WHILE-DOWN", 20)
        try await merchant.write { db in
            try db.execute(
                sql:
                    "INSERT INTO pending_orders (mch_id, appid, out_trade_no, created_at, timeout_seconds) VALUES (?, ?, 'APP-PAID', ?, 900)",
                arguments: [EndToEndWorld.mchA, EndToEndWorld.appID, now])
            try db.execute(
                sql:
                    "UPDATE pending_orders SET status = 'paid' WHERE out_trade_no = 'APP-PAID' AND status IN ('pending', 'closing')"
            )
        }
        expected.append("APP-PAID")
        try await waitUntil("the orders of the second wave to be decided", detail: String(daemon.log.suffix(2000))) {
            try undecided() == 0
        }

        let second = try WatchProcess(
            ["watch", "--config", world.configPath, "--from", resumeFrom],
            log: world.directory.appendingPathComponent("watch-2.log"))
        expected += try wave("AFTER-RESTART", 20)
        try await waitUntil("the second watcher to print the rest", detail: second.stderr + daemon.log.suffix(2000)) {
            second.lines.count >= expected.count - printedBeforeKill.count
        }
        try await waitUntil("the third wave to be decided") { try undecided() == 0 }
        second.kill()

        let printed = (printedBeforeKill + second.lines).compactMap { WatchProcess.field("out_trade_no", in: $0) }
        #expect(printed.count == expected.count, "printed \(printed.count) lines for \(expected.count) orders")
        #expect(Set(printed) == Set(expected) && Set(printed).count == printed.count, "repeated or missing: \(printed)")
        let cursors = (printedBeforeKill + second.lines).compactMap { WatchProcess.field("cursor", in: $0) }
        #expect(cursors.count == Set(cursors).count)
        let paid = (printedBeforeKill + second.lines).filter { $0.contains("\"FIRST-3\"") || $0.contains("\"WHILE-DOWN-3\"") }
        #expect(
            paid.count == 2 && paid.allSatisfy { $0.contains("\"status\":\"paid\"") && $0.contains("\"transaction_id\":\"") },
            "\(paid)")
        #expect(second.lines.contains { $0.contains("\"APP-PAID\"") && $0.contains("\"outcome\":null") })

        daemon.signal(SIGTERM)
        #expect(await daemon.exitStatus() == 0)
    }

    @Test func helpSaysWhatIsPrintedAndHowToResumeAndABadCursorIsNamed() async throws {
        let help = try await EndToEndWorld.runCLI(["watch", "--help"])
        #expect(help.status == 0)
        let text = help.output.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        for words in [
            "one JSON object per line", "cursor (FINISHED_MS:ID)", "--from", "nothing is skipped and nothing is printed twice",
        ] {
            #expect(text.contains(words), "watch --help lacks '\(words)': \(help.output)")
        }
        let bad = try await EndToEndWorld.runCLI(["watch", "--database", "/nonexistent/orders.sqlite", "--from", "12:x"])
        #expect(bad.status == 64 && bad.output.contains("ID 'x'"), "\(bad.output)")
    }
}

/// `closeorderd watch` as a child process, its standard output collected line by line.
final class WatchProcess: @unchecked Sendable {
    let process = Process()
    let logPath: String
    private let lock = NSLock()
    private var buffer = Data()
    private var complete: [String] = []

    init(_ arguments: [String], log: URL) throws {
        logPath = log.path
        process.executableURL = try DaemonProcess.binary()
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("CLOSEORDERD_") }
        FileManager.default.createFile(atPath: logPath, contents: nil)
        process.standardError = try FileHandle(forWritingTo: log)
        let pipe = Pipe()
        process.standardOutput = pipe
        // A thread of its own reads until end of file: Foundation's readabilityHandler on Linux
        // can crash libdispatch when the pipe's writer is killed (seen in a full run).
        let reading = pipe.fileHandleForReading
        Thread.detachNewThread { [self] in
            while true {
                let data = reading.availableData
                if data.isEmpty { return }
                append(data)
            }
        }
        try process.run()
    }

    private func append(_ data: Data) {
        lock.withLock {
            buffer.append(data)
            while let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                complete.append(String(decoding: buffer[buffer.startIndex..<newline], as: UTF8.self))
                buffer.removeSubrange(buffer.startIndex...newline)
            }
        }
    }

    /// The complete lines printed so far.
    var lines: [String] { lock.withLock { complete } }
    var stderr: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// SIGKILL, as a crash or an OOM kill would end it; waits until it is gone.
    func kill() {
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    static func field(_ name: String, in line: String) -> String? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
        return object[name] as? String
    }
}
