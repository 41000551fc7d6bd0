import Logging
import NIOConcurrencyHelpers
import OrderClosing
import OrderClosingTestSupport
import Testing
import WeChatPayV2

/// A `ClosingService` on the in-memory store (held to the SQL stores' conformance suites), a
/// manual clock and a scripted gateway.
/// Tests move the clock and wait on the loop's own events; nothing sleeps.
final class WorkerHarness: Sendable {
    static let created: Int64 = 1_800_000_000
    static let mchA = "1900000109", mchB = "1900000110", appID = "wx2421b1c4370ec43b"

    enum Event: Sendable { case recorded(Int), waiting(Int) }

    let database: InMemoryOrderStore
    let clock: ManualClock
    let gateway: ScriptedGateway
    let service: ClosingService
    let events: AsyncStream<Event>
    let eventSink: AsyncStream<Event>.Continuation
    let recordedTotal = Counter()

    init(
        settings: ClosingSettings = .sequential, retry: RetryPolicy = RetryPolicy(), merchants: [MerchantProfile]? = nil,
        unavailable: [String: String] = [:], now: Int64 = created * 1000, nudges: QueueNudges? = nil,
        store wrap: (any OrderStore) -> any OrderStore = { $0 }, logger given: Logger? = nil
    ) throws {
        database = InMemoryOrderStore()
        clock = ManualClock(now: now)
        gateway = ScriptedGateway(clock: clock)
        (events, eventSink) = AsyncStream.makeStream(of: Event.self)
        let key = try APIKey("192006250b4c09247ec02edce69f6a2d")
        let profiles =
            merchants ?? [
                MerchantProfile(merchant: ScriptedMerchant(Self.mchA), appIDs: [Self.appID]),
                MerchantProfile(merchant: ScriptedMerchant(Self.mchB), appIDs: [Self.appID]),
            ]
        var logger = Logger(label: "worker-test")
        logger.logLevel = .critical
        if let given { logger = given }
        let closer = OrderCloser(
            gateway: gateway, clock: clock, merchants: profiles, retry: retry, logger: logger, jitter: { 0.5 })
        let sink = eventSink
        let total = recordedTotal
        let hooks = ClosingEvents(
            onRecorded: { writes in
                total.add(writes.count)
                sink.yield(.recorded(writes.count))
            },
            onWaiting: { sink.yield(.waiting($0)) })
        service = ClosingService(
            store: wrap(database), closer: closer, clock: clock, settings: settings,
            directory: MerchantDirectory(profiles: profiles, unavailable: unavailable), logger: logger, events: hooks,
            nudges: nudges)
    }

    /// Consumes loop events until `recorded` writes have been flushed in all and the loop is idle.
    /// A regression that never gets there fails the test after a minute instead of hanging the run.
    func settle(recorded expected: Int, sourceLocation: SourceLocation = #_sourceLocation) async {
        let settled = await withDeadline {
            var iterator = self.events.makeAsyncIterator()
            while let event = await iterator.next() {
                if case .waiting(0) = event, self.recordedTotal.value >= expected { return }
            }
        }
        if !settled {
            Issue.record(
                "the loop did not settle with \(expected) writes recorded (got \(recordedTotal.value)) within a minute",
                sourceLocation: sourceLocation)
        }
    }

    /// Runs `body`, giving up after `seconds` of real time; returns whether it finished. The bound
    /// only catches hangs: no test relies on it to order events. The body runs unstructured, so a
    /// wait that ignores cancellation (the clock's and the gateway's waiters) cannot hold the test
    /// past the bound: a task group would wait for it after cancelling it, and hang the run.
    func withDeadline(seconds: Int = 60, _ body: @escaping @Sendable () async -> Void) async -> Bool {
        let (outcome, sink) = AsyncStream.makeStream(of: Bool.self)
        let work = Task {
            await body()
            sink.yield(true)
        }
        let timer = Task {
            try? await Task.sleep(for: .seconds(seconds))
            sink.yield(false)
        }
        var first = outcome.makeAsyncIterator()
        let finished = await first.next() ?? false
        work.cancel()
        timer.cancel()
        sink.finish()
        return finished
    }

    /// Moves the clock to `time` and, if that wakes the loop, waits until the loop has handled it.
    /// (An idle loop always has its timer asleep on the clock; if the timer is later than `time`,
    /// nothing can happen, and there is nothing to wait for.)
    func advance(to time: Int64, thenRecorded expected: Int, sourceLocation: SourceLocation = #_sourceLocation) async {
        let parked = await withDeadline { await self.clock.waitForSleepers(1) }
        if !parked { Issue.record("the loop never parked on the clock", sourceLocation: sourceLocation) }
        let wakes = (clock.nextDeadline ?? .max) <= time
        clock.advance(to: time)
        if wakes { await settle(recorded: expected, sourceLocation: sourceLocation) }
    }

    func callTimes(_ outTradeNo: String, _ operation: AttemptRecord.Call = .closeOrder) -> [Int64] {
        gateway.calls.filter { $0.outTradeNo == outTradeNo && $0.operation == operation }.map(\.at)
    }

    static func dueMs(_ createdAt: Int64 = created, timeout: Int64 = 0) -> Int64 {
        DuePolicy.standard.dueTime(createdAt: createdAt, timeoutSeconds: timeout)
    }
}

extension ClosingSettings {
    /// One call at a time, one order per transaction: every step is observable.
    static var sequential: ClosingSettings {
        var settings = ClosingSettings()
        settings.concurrency = 1
        settings.batchSize = 1
        settings.owner = "worker-test"
        return settings
    }
}

/// A count shared with the loop's event hooks.
final class Counter: Sendable {
    private let count = NIOLockedValueBox(0)
    func add(_ amount: Int) { count.withLockedValue { $0 += amount } }
    var value: Int { count.withLockedValue { $0 } }
}
