import OrderClosing
import OrderClosingTestSupport
import StoreTestSupport
import Testing
import WeChatPayV2

/// Every `OperatorStore` adapter answers the operator commands alike: the SQLite store on a real
/// WAL file, the PostgreSQL store on the test cluster (`PostgresTestCluster`), and the in-memory
/// double. Times are injected (PostgreSQL on the caller's clock), so the figures are exact.
@Suite struct OperatorStoreConformanceTests {
    static let created = StoreConformanceTests.created
    static let dueMs = StoreConformanceTests.dueMs
    static let mchA = StoreFixtureDefaults.mchID
    static let mchB = StoreConformanceTests.mchB
    /// When the status is read: a minute after the first orders fell due.
    static let now = dueMs + 60_000

    func operatorStore(_ fixture: any StoreFixture) throws -> any OperatorStore {
        try #require(fixture.store as? any OperatorStore, "\(type(of: fixture.store)) is not an OperatorStore")
    }

    func finish(_ order: ClaimedOrder, _ change: OrderChange, on fixture: any StoreFixture, at now: Int64) async throws {
        let attempt = AttemptRecord(
            call: .closeOrder, attempt: order.attempt, startedAt: now - 50, finishedAt: now, endpoint: "http://127.0.0.1:1",
            response: ResponseSummary(httpStatus: 200, returnCode: "SUCCESS", resultCode: "SUCCESS", verified: true),
            outcome: .closed, error: nil)
        #expect(
            try await fixture.store.record([OrderWrite(order: order, change: change, attempts: [attempt])], now: now) == [
                .applied
            ])
    }

    /// CLOSED (closed), GAVE-UP (failed), STUCK (pending, its retry an hour away), RESCUED (pending,
    /// in doubt), LATER (pending, due in an hour); STUCK and RESCUED are overdue.
    func queue(_ kind: StoreKind) async throws -> any StoreFixture {
        let fixture = try await kind.make()
        for (index, name) in ["CLOSED", "GAVE-UP", "STUCK", "RESCUED"].enumerated() {
            try await fixture.place(name, createdAt: Self.created + Int64(index))
        }
        try await fixture.place("LATER", createdAt: Self.created + 3_600)
        let at = Self.dueMs + 3_000
        let claimed = try await fixture.store.claimDue(
            ClaimRequest(limit: 10), now: at, leaseOwner: "gone", leaseUntil: at + 1_000)
        let byName = Dictionary(uniqueKeysWithValues: claimed.map { ($0.outTradeNo, $0) })
        #expect(byName.keys.sorted() == ["CLOSED", "GAVE-UP", "RESCUED", "STUCK"])
        try await finish(
            byName["CLOSED"]!, .finish(.closed, outcome: "closed", transactionID: nil, reason: nil), on: fixture, at: at)
        try await finish(
            byName["GAVE-UP"]!, .finish(.failed, outcome: nil, transactionID: nil, reason: "gave up after 10 attempts"),
            on: fixture, at: at)
        try await finish(
            byName["STUCK"]!, .retry(at: Self.dueMs + 3_600_000, reason: "SYSTEMERROR", inDoubt: false, refundAttempt: false),
            on: fixture, at: at)
        _ = try await fixture.store.rescueExpiredLeases(now: at + 2_000, sparing: nil)
        return fixture
    }

    @Test(arguments: StoreKind.tested)
    func statusCountsOverdueInDoubtFailedAndWhatTheDaemonsPublished(kind: StoreKind) async throws {
        let fixture = try await queue(kind)
        defer { fixture.remove() }
        let store = try operatorStore(fixture)
        // Open until a minute from now, by a daemon whose heartbeat is live: current (PublishedCircuit).
        let open = PublishedCircuit(state: .open, untilMs: Self.now + 60_000, reason: "SIGNERROR: 签名错误", owner: "host-a:42:1")
        try await fixture.store.publish("circuit:\(Self.mchB)", open.encoded, now: Self.now - 5_000)
        try await fixture.store.publish("heartbeat", "due=0 closing=0", now: Self.now)
        try await store.pause(mchID: Self.mchA, reason: "key rotation", now: Self.now)
        let daemon = DaemonRecord(
            owner: "host-a:42:1", host: "host-a", pid: 42, bootID: "boot", version: "1.0", startedMs: Self.dueMs,
            intervalSeconds: 5)
        try await fixture.store.announce(daemon, now: Self.now - 2_000)

        let report = try await store.status(now: Self.now)
        #expect(report.now == Self.now)
        #expect(report.counts == [.pending: 3, .closing: 0, .closed: 1, .paid: 0, .failed: 1])
        #expect(report.overdue == 2)
        let oldest = try #require(report.oldestOverdue)
        #expect(oldest.outTradeNo == "STUCK" && oldest.mchID == Self.mchA)
        #expect(oldest.dueMs == Self.dueMs + 2_000 && report.now - oldest.dueMs == 58_000)
        #expect(report.inDoubt == 1)
        #expect(report.failedLastDay == 1)
        #expect(report.circuits == [Self.mchB: StatusReport.Circuit(open, publishedMs: Self.now - 5_000)])
        #expect(report.pauses == [Self.mchA: "key rotation"])
        var seen = daemon
        seen.lastSeenMs = Self.now - 2_000
        #expect(report.daemons == [seen])
        #expect(report.daemons.first?.isStale(now: report.now) == false)
        #expect(report.facts == ["heartbeat": "due=0 closing=0"])

        // A day on: the failure has left the window, the silent daemon is stale, and so its circuit is over.
        let later = try await store.status(now: Self.now + StatusReport.failedWindowMs)
        #expect(later.failedLastDay == 0)
        #expect(later.daemons.first?.isStale(now: later.now) == true)
        #expect(later.circuits.isEmpty)
        #expect(later.overdue == 3, "LATER fell due too")
    }

    @Test(arguments: StoreKind.tested)
    func listFiltersByStatusMerchantOverdueAndAgeNewestFirst(kind: StoreKind) async throws {
        let fixture = try await queue(kind)
        defer { fixture.remove() }
        try await fixture.place("OTHER", createdAt: Self.created + 10, mchID: Self.mchB)
        let store = try operatorStore(fixture)

        let all = try await store.list(OrderFilter(), now: Self.now)
        #expect(all.map(\.outTradeNo) == ["LATER", "OTHER", "RESCUED", "STUCK", "GAVE-UP", "CLOSED"])
        #expect(
            try await store.list(OrderFilter(status: .pending), now: Self.now).map(\.outTradeNo) == [
                "LATER", "OTHER", "RESCUED", "STUCK",
            ])
        #expect(try await store.list(OrderFilter(mchID: Self.mchB), now: Self.now).map(\.outTradeNo) == ["OTHER"])
        #expect(
            try await store.list(OrderFilter(overdueOnly: true), now: Self.now).map(\.outTradeNo) == [
                "OTHER", "RESCUED", "STUCK",
            ])
        // Placed at least this long before now: CLOSED (created + 0) and GAVE-UP (created + 1) only.
        let olderThan = (Self.now / 1000) - Self.created - 1
        #expect(
            try await store.list(OrderFilter(olderThanSeconds: olderThan), now: Self.now).map(\.outTradeNo) == [
                "GAVE-UP", "CLOSED",
            ])
        #expect(try await store.list(OrderFilter(limit: 2), now: Self.now).map(\.outTradeNo) == ["LATER", "OTHER"])

        let stuck = try #require(all.first { $0.outTradeNo == "STUCK" })
        #expect(stuck.status == "pending" && stuck.attempts == 1 && !stuck.inDoubt && stuck.mchID == Self.mchA)
        #expect(stuck.dueAt == TimeText.iso8601(Self.dueMs + 2_000) && stuck.overdueSeconds == 58)
        #expect(stuck.nextAttemptAt == TimeText.iso8601(Self.dueMs + 3_600_000), "its retry time, later than its due time")
        #expect(stuck.createdAt == TimeText.iso8601((Self.created + 2) * 1000))
        #expect(stuck.lastError == "SYSTEMERROR")
        let rescued = try #require(all.first { $0.outTradeNo == "RESCUED" })
        #expect(rescued.inDoubt && rescued.lastError?.contains("lease expired") == true)
        let closed = try #require(all.first { $0.outTradeNo == "CLOSED" })
        #expect(closed.outcome == "closed" && closed.overdueSeconds == 0 && closed.nextAttemptAt == nil)
        let later = try #require(all.first { $0.outTradeNo == "LATER" })
        #expect(later.overdueSeconds == 0 && later.nextAttemptAt == later.dueAt)
    }

    @Test(arguments: StoreKind.tested)
    func showGivesEveryMerchantsRowWithItsAttempts(kind: StoreKind) async throws {
        let fixture = try await queue(kind)
        defer { fixture.remove() }
        try await fixture.place("CLOSED", createdAt: Self.created + 20, mchID: Self.mchB)
        let store = try operatorStore(fixture)

        let both = try await store.show(outTradeNo: "CLOSED", mchID: nil)
        #expect(both.map(\.order.mchID) == [Self.mchA, Self.mchB])
        let closed = try #require(both.first)
        let order = closed.order
        let claimedAt = Self.dueMs + 3_000
        let created = Self.created
        // Every column of the row, typed: the lease was released when the close was recorded.
        #expect(
            order
                == OrderDetail.Order(
                    id: order.id, mchID: Self.mchA, appID: order.appID, outTradeNo: "CLOSED", subMchID: nil, subAppID: nil,
                    createdAt: created, timeoutSeconds: order.timeoutSeconds, status: .closed, outcome: .closed,
                    attempts: 1, lastError: nil, lastErrCode: nil, transactionID: nil, inDoubt: false, conflict: nil,
                    firstAttemptMs: claimedAt, lastAttemptMs: claimedAt, finishedMs: claimedAt, retryAtMs: order.retryAtMs,
                    leaseOwner: nil, leaseToken: nil, leaseExpiresMs: nil, nextAttemptMs: order.nextAttemptMs))
        #expect(!order.appID.isEmpty && order.id > 0)
        #expect(closed.attempts.count == 1)
        let attempt = try #require(closed.attempts.first)
        #expect(
            attempt
                == OrderDetail.Attempt(
                    id: attempt.id, orderID: order.id, mchID: Self.mchA, outTradeNo: "CLOSED", attempt: 1, call: .closeOrder,
                    startedMs: Self.dueMs + 2_950, finishedMs: claimedAt, endpoint: "http://127.0.0.1:1", httpStatus: 200,
                    returnCode: "SUCCESS", returnMsg: nil, resultCode: "SUCCESS", errCode: nil, errCodeDes: nil,
                    outcome: .closed, error: nil, verified: true))
        #expect(attempt.durationMs == 50)
        #expect(both.last?.attempts.isEmpty == true)
        #expect(both.last?.order.status == .pending && both.last?.order.attempts == 0)

        #expect(try await store.show(outTradeNo: "CLOSED", mchID: Self.mchB).map(\.order.mchID) == [Self.mchB])
        #expect(try await store.show(outTradeNo: "NOBODY", mchID: nil).isEmpty)
    }

    @Test(arguments: StoreKind.tested)
    func orderActionsMoveOnlyWhatTheyApplyToAndSayWhyForTheRest(kind: StoreKind) async throws {
        let fixture = try await queue(kind)
        defer { fixture.remove() }
        try await fixture.place("INFLIGHT", createdAt: Self.created + 30, mchID: Self.mchB)
        _ = try await fixture.store.claimDue(
            ClaimRequest(limit: 1, excludedMerchants: [Self.mchA]), now: Self.now, leaseOwner: "busy",
            leaseUntil: Self.now + 60_000)
        #expect(try await fixture.stored("INFLIGHT")?.status == .closing)
        let store = try operatorStore(fixture)

        // A dry run reports and changes nothing.
        let dry = try await store.apply(.requeue, to: OrderSelection(outTradeNos: ["GAVE-UP"]), now: Self.now, dryRun: true)
        #expect(dry.moved == 1 && dry.skipped.isEmpty)
        #expect(try await fixture.stored("GAVE-UP")?.status == .failed)

        let requeue = try await store.apply(
            .requeue, to: OrderSelection(outTradeNos: ["GAVE-UP", "CLOSED", "INFLIGHT", "NOBODY"]),
            now: Self.now, dryRun: false)
        #expect(requeue.moved == 1)
        #expect(
            requeue.skipped == [
                .init(outTradeNo: "CLOSED", mchID: Self.mchA, reason: "it is closed, not failed"),
                .init(
                    outTradeNo: "INFLIGHT", mchID: Self.mchB,
                    reason: "it is closing (a call is in flight); try again once it is decided"),
                .init(outTradeNo: "NOBODY", mchID: nil, reason: "no such order"),
            ])
        let requeued = try #require(try await fixture.stored("GAVE-UP"))
        #expect(requeued.status == .pending && requeued.attempts == 0)
        #expect(requeued.lastError == "requeued by an operator; was: gave up after 10 attempts")

        // retry-now makes STUCK (retry an hour away) due now; abandon ends RESCUED for good.
        let retry = try await store.apply(.retryNow, to: OrderSelection(outTradeNos: ["STUCK"]), now: Self.now, dryRun: false)
        #expect(retry.moved == 1 && retry.skipped.isEmpty)
        #expect(try await fixture.stored("STUCK")?.lastError == "retried now by an operator; was: SYSTEMERROR")
        let abandon = try await store.apply(
            .abandon(reason: "customer cancelled by phone"), to: OrderSelection(outTradeNos: ["RESCUED"]),
            now: Self.now, dryRun: false)
        #expect(abandon.moved == 1)
        let abandoned = try #require(try await fixture.stored("RESCUED"))
        #expect(abandoned.status == .failed && abandoned.lastError == "abandoned by an operator: customer cancelled by phone")
        let wrongMerchant = try await store.apply(
            .retryNow, to: OrderSelection(outTradeNos: ["LATER"], mchID: Self.mchB), now: Self.now, dryRun: false)
        #expect(wrongMerchant.moved == 0 && wrongMerchant.skipped.map(\.reason) == ["no such order for mch_id \(Self.mchB)"])

        // The requeued and retried orders are due at once, with a fresh budget for the requeued one.
        let claimed = try await fixture.store.claimDue(
            ClaimRequest(limit: 10), now: Self.now, leaseOwner: "next", leaseUntil: Self.now + 60_000)
        #expect(Set(claimed.map(\.outTradeNo)) == ["GAVE-UP", "STUCK"])
        #expect(claimed.first { $0.outTradeNo == "GAVE-UP" }?.attempt == 1)
        let report = try await store.status(now: Self.now)
        #expect(report.failedLastDay == 1, "the abandoned order counts as failed now")
    }

    @Test(arguments: StoreKind.tested)
    func requeueAllFailedTakesEveryFailedOrderOfTheMerchant(kind: StoreKind) async throws {
        let fixture = try await kind.make()
        defer { fixture.remove() }
        for name in ["A1", "A2"] { try await fixture.place(name, createdAt: Self.created) }
        try await fixture.place("B1", createdAt: Self.created, mchID: Self.mchB)
        let store = try operatorStore(fixture)
        let everyone = OrderSelection(outTradeNos: ["A1", "A2", "B1"])
        #expect(try await store.apply(.abandon(reason: "test"), to: everyone, now: Self.now, dryRun: false).moved == 3)

        let dry = try await store.requeue(outTradeNos: [], mchID: Self.mchA, allFailed: true, now: Self.now, dryRun: true)
        #expect(dry.moved == 2 && dry.skipped.isEmpty)
        #expect(try await store.requeue(outTradeNos: [], mchID: Self.mchA, allFailed: true, now: Self.now).moved == 2)
        #expect(try await fixture.stored("B1")?.status == .failed)
        #expect(try await store.requeue(outTradeNos: [], mchID: nil, allFailed: true, now: Self.now).moved == 1)
        #expect(try await store.requeue(outTradeNos: [], mchID: nil, allFailed: true, now: Self.now).moved == 0)
    }

    @Test(arguments: StoreKind.tested)
    func aPauseReachesTheDaemonsUntilResumed(kind: StoreKind) async throws {
        let fixture = try await kind.make()
        defer { fixture.remove() }
        let store = try operatorStore(fixture)
        try await store.pause(mchID: Self.mchB, reason: "key rotation", now: Self.now)
        #expect(try await fixture.store.pausedMerchants() == [Self.mchB: "key rotation"])
        #expect(try await store.status(now: Self.now).pauses == [Self.mchB: "key rotation"])
        #expect(try await store.resume(mchID: Self.mchB))
        #expect(try await fixture.store.pausedMerchants().isEmpty)
        #expect(try await store.resume(mchID: Self.mchB) == false)
    }
}
