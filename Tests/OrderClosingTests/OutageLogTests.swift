import Logging
import NIOConcurrencyHelpers
import OrderClosing
import OrderClosingTestSupport
import Testing

@Suite struct OutageLogTests {
    typealias H = WorkerHarness

    @Test func theTable() {
        var log = OutageLog()
        #expect(log.record(.delivered, now: 0) == nil)
        #expect(
            log.record(.notDelivered(orderID: 1, cause: "connection refused"), now: 1_000)
                == .started(cause: "connection refused"))
        #expect(log.record(.notDelivered(orderID: 2, cause: "timeout"), now: 2_000) == nil)
        #expect(log.record(.notDelivered(orderID: 1, cause: "connection refused"), now: 31_000) == nil)
        #expect(log.ordersWaiting == 2)
        #expect(log.since == 1_000)
        #expect(log.record(.delivered, now: 61_000) == .ended(lastedMs: 60_000, ordersWaited: 2))
        #expect(log.since == nil)
        #expect(log.record(.delivered, now: 62_000) == nil)
        #expect(log.record(.notDelivered(orderID: 3, cause: "x"), now: 70_000) == .started(cause: "x"))
        #expect(log.record(.delivered, now: 70_000) == .ended(lastedMs: 0, ordersWaited: 1))
    }

    @Test func durationWords() {
        #expect(TimeText.duration(30_000) == "30 s")
        #expect(TimeText.duration(600_000) == "10 min")
        #expect(TimeText.duration(10) == "< 1 s")
    }

    /// Three orders wait out three tries of an outage: one line when it starts, one when it ends,
    /// and no per-order warning.
    @Test func anOutageLogsOnceAtEachEnd() async throws {
        let lines = CapturedLines()
        var logger = Logger(label: "outage-test") { _ in CapturingHandler(lines: lines) }
        logger.logLevel = .info
        let h = try WorkerHarness(logger: logger)
        defer { h.database.remove() }
        let orders = ["DOWN1", "DOWN2", "DOWN3"]
        let tries = 3
        for order in orders {
            try h.database.insert(order, createdAt: H.created)
            h.gateway.scriptClose(
                order, Array(repeating: .answer(.retryable(.connection("refused")), delivered: false), count: tries))
        }
        let task = Task { try await h.service.run() }
        await h.settle(recorded: 0)
        for index in 0..<tries {
            await h.advance(to: H.dueMs() + Int64(index) * RetryPolicy().outageDelayMs, thenRecorded: orders.count * (index + 1))
        }
        await h.advance(to: H.dueMs() + Int64(tries) * RetryPolicy().outageDelayMs, thenRecorded: orders.count * (tries + 1))
        for order in orders { #expect(try h.database.row(order)?["status"] as String? == "closed") }
        task.cancel()
        _ = await task.result
        let all = lines.all
        let started = all.filter { $0.message.contains("WeChat Pay unreachable") }
        let ended = all.filter { $0.message.contains("WeChat Pay reachable again") }
        #expect(started.count == 1)
        #expect(started.first?.level == .error)
        #expect(started.first?.message.contains("refused") == true)
        #expect(ended.count == 1)
        #expect(ended.first?.level == .notice)
        #expect(ended.first?.message.contains("3 order(s) waited") == true)
        #expect(ended.first?.message.contains("after 90 s") == true)
        #expect(
            all.filter { $0.level == .warning }.isEmpty,
            "per-order warnings: \(all.filter { $0.level == .warning }.map(\.message))")
    }
}

final class CapturedLines: Sendable {
    struct Line: Sendable {
        let level: Logger.Level
        let message: String
    }
    private let store = NIOLockedValueBox<[Line]>([])
    func add(_ line: Line) { store.withLockedValue { $0.append(line) } }
    var all: [Line] { store.withLockedValue { $0 } }
}

struct CapturingHandler: LogHandler {
    let lines: CapturedLines
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(
        level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String,
        file: String, function: String, line: UInt
    ) {
        lines.add(.init(level: level, message: "\(message)"))
    }
}
