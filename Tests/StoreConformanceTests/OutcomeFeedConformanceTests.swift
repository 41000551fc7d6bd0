import Foundation
import GRDB
import OrderClosing
import OrderClosingTestSupport
import StoreTestSupport
import Testing
import WeChatPayV2

@testable import PostgresOrderStore
@testable import SQLiteOrderStore

/// The outcome feed (issue 25) on both real stores: every finished order once, in
/// `(finished_ms, id)` order, from any cursor, however the writes that finished them interleave,
/// and always through the index. Times are injected (PostgreSQL on the caller's clock).
@Suite struct OutcomeFeedConformanceTests {
    static let created = StoreConformanceTests.created
    static let dueMs = StoreConformanceTests.dueMs
    static let kinds = StoreKind.tested.filter { $0 != .memory }

    func feed(_ fixture: any StoreFixture) throws -> any OutcomeFeed {
        try #require(fixture.store as? any OutcomeFeed, "\(type(of: fixture.store)) is not an OutcomeFeed")
    }

    /// Everything after `cursor`, read `page` rows at a time, as a reader would.
    func readAll(_ feed: any OutcomeFeed, after cursor: FeedCursor = .start, page: Int = 2) async throws -> [FinishedOrder] {
        var cursor = cursor
        var all: [FinishedOrder] = []
        while true {
            let rows = try await feed.finishedOrders(after: cursor, limit: page)
            all += rows
            guard let last = rows.last, rows.count == page else { return all }
            cursor = last.cursor
        }
    }

    func claimAll(_ fixture: any StoreFixture, at now: Int64) async throws -> [String: ClaimedOrder] {
        let claimed = try await fixture.store.claimDue(
            ClaimRequest(limit: 100), now: now, leaseOwner: "test", leaseUntil: now + 60_000)
        return Dictionary(uniqueKeysWithValues: claimed.map { ($0.outTradeNo, $0) })
    }

    func closed(
        _ order: ClaimedOrder, _ change: OrderChange = .finish(.closed, outcome: "closed", transactionID: nil, reason: nil)
    ) -> OrderWrite {
        OrderWrite(
            order: order, change: change,
            attempts: [
                AttemptRecord(
                    call: .closeOrder, attempt: order.attempt, startedAt: Self.dueMs, finishedAt: Self.dueMs + 50,
                    endpoint: "http://127.0.0.1:1",
                    response: ResponseSummary(httpStatus: 200, returnCode: "SUCCESS", resultCode: "SUCCESS", verified: true),
                    outcome: .closed, error: nil)
            ])
    }

    @Test(arguments: kinds)
    func aBatchFinishedInOneMillisecondIsReadPageByPageInIdOrder(kind: StoreKind) async throws {
        let fixture = try await kind.make()
        defer { fixture.remove() }
        let names = (0..<5).map { "TIE-\($0)" }
        for name in names { try await fixture.place(name, createdAt: Self.created) }
        let claimed = try await claimAll(fixture, at: Self.dueMs)
        _ = try await fixture.store.record(names.map { closed(claimed[$0]!) }, now: Self.dueMs + 100)
        let feed = try feed(fixture)
        let read = try await readAll(feed)
        #expect(read.map(\.outTradeNo) == names)
        #expect(Set(read.map(\.finishedMs)).count == 1, "one transaction, one stamp: \(read.map(\.finishedMs))")
        #expect(read.map(\.id) == read.map(\.id).sorted())
        #expect(read.allSatisfy { $0.status == .closed && $0.outcome == "closed" && $0.attempts == 1 })
        #expect(try await feed.feedEnd() == read.last?.cursor)
        #expect(try await feed.finishedOrders(after: read.last!.cursor, limit: 10).isEmpty)
    }

    /// The loop takes `now` before it waits for the write lock, so a batch can commit after
    /// another whose `now` was later, or in the same millisecond with lower ids. A reader that
    /// read the first commit must still find the second after its cursor.
    @Test(arguments: kinds)
    func aCommitWhoseNowIsEarlierIsStillReadAfterTheCursor(kind: StoreKind) async throws {
        let fixture = try await kind.make()
        defer { fixture.remove() }
        for name in ["A-EARLIER", "A-SAME-MS", "B-FIRST"] { try await fixture.place(name, createdAt: Self.created) }
        let claimed = try await claimAll(fixture, at: Self.dueMs)
        let feed = try feed(fixture)
        let t = Self.dueMs + 1_000

        _ = try await fixture.store.record([closed(claimed["B-FIRST"]!)], now: t + 10)
        let first = try await readAll(feed)
        #expect(first.map(\.outTradeNo) == ["B-FIRST"])
        let cursor = try #require(first.last?.cursor)

        _ = try await fixture.store.record([closed(claimed["A-EARLIER"]!)], now: t + 5)  // committed later, an earlier now
        _ = try await fixture.store.record([closed(claimed["A-SAME-MS"]!)], now: t + 10)  // the same ms, a lower id
        let next = try await readAll(feed, after: cursor)
        #expect(next.map(\.outTradeNo) == ["A-EARLIER", "A-SAME-MS"], "skipped: \(next)")
        #expect(next.allSatisfy { $0.cursor > cursor })
        #expect(try await readAll(feed).count == 3)
    }

    @Test(arguments: kinds)
    func theAppsPaidIsReadAndReadAgainWhenARacingCloseSetsItsConflict(kind: StoreKind) async throws {
        let fixture = try await kind.make()
        defer { fixture.remove() }
        try await fixture.place("RACED", createdAt: Self.created)
        try await fixture.place("QUIET", createdAt: Self.created)
        let claimed = try await claimAll(fixture, at: Self.dueMs)
        let feed = try feed(fixture)
        try await fixture.markPaidByApp("RACED")
        try await fixture.markPaidByApp("QUIET")
        let paid = try await readAll(feed)
        #expect(paid.map(\.outTradeNo).sorted() == ["QUIET", "RACED"])
        #expect(paid.allSatisfy { $0.status == .paid && $0.outcome == nil && $0.conflict == nil })
        let cursor = try #require(paid.last?.cursor)

        // WeChat said it closed RACED: the app's paid stays, the conflict is written, and the row comes back.
        #expect(
            try await fixture.store.record([closed(claimed["RACED"]!)], now: Self.dueMs + 2_000) == [.conflict(current: .paid)])
        let again = try await readAll(feed, after: cursor)
        #expect(again.map(\.outTradeNo) == ["RACED"])
        #expect(again.first?.status == .paid && again.first?.conflict != nil)
    }

    @Test(arguments: kinds)
    func abandonedOrdersAreReadAndARequeuedOneIsReadAgainWhenItEndsAgain(kind: StoreKind) async throws {
        let fixture = try await kind.make()
        defer { fixture.remove() }
        let operators = try #require(fixture.store as? any OperatorStore)
        try await fixture.place("ABANDONED", createdAt: Self.created + 3_600)
        try await fixture.place("RETRIED", createdAt: Self.created)
        let feed = try feed(fixture)
        let report = try await operators.apply(
            .abandon(reason: "customer cancelled"), to: OrderSelection(outTradeNos: ["ABANDONED"]),
            now: Self.dueMs, dryRun: false)
        #expect(report.moved == 1)
        let claimed = try await claimAll(fixture, at: Self.dueMs)
        _ = try await fixture.store.record(
            [closed(claimed["RETRIED"]!, .finish(.failed, outcome: nil, transactionID: nil, reason: "spent"))],
            now: Self.dueMs + 100)
        let first = try await readAll(feed)
        #expect(first.map(\.outTradeNo) == ["ABANDONED", "RETRIED"] && first.allSatisfy { $0.status == .failed })
        let cursor = try #require(first.last?.cursor)

        _ = try await operators.requeue(outTradeNos: ["RETRIED"], mchID: nil, allFailed: false, now: Self.dueMs + 200)
        #expect(try await readAll(feed).map(\.outTradeNo) == ["ABANDONED"], "a requeued order leaves the feed while it is open")
        let again = try #require(try await claimAll(fixture, at: Self.dueMs + 300)["RETRIED"])
        _ = try await fixture.store.record([closed(again)], now: Self.dueMs + 400)
        let next = try await readAll(feed, after: cursor)
        #expect(next.map(\.outTradeNo) == ["RETRIED"] && next.first?.status == .closed)
    }

    @Test func theSQLiteCursorQueryAndTheStampAreIndexRanges() async throws {
        let database = try ScratchDatabase()
        defer { database.remove() }
        let plans = try await database.pool.read { db in
            try [SQLiteFeed.query, SQLiteFeed.newestStamp].map { sql in
                try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + sql, arguments: sql == SQLiteFeed.query ? [1, 2, 3] : [])
                    .map { $0["detail"] as String }.joined(separator: "; ")
            }
        }
        for plan in plans {
            #expect(plan.contains("pending_orders_feed") && !plan.contains("SCAN pending_orders"), "\(plan)")
        }
    }

    @Test(.enabled(if: PostgresTestCluster.shouldRun))
    func thePostgresCursorQueryIsAnIndexRangeOnAFullTable() async throws {
        let fixture = try await PostgresScratchDatabase()
        defer { fixture.remove() }
        try await fixture.psql(
            """
            INSERT INTO pending_orders (mch_id, appid, out_trade_no, created_at, timeout_seconds)
            SELECT '1900000109', 'wx2421b1c4370ec43b', 'BULK-' || n, 1800000000, 0 FROM generate_series(1, 20000) AS n;
            UPDATE pending_orders SET status = 'closed', outcome = 'closed', finished_ms = 1800000400000 + id;
            ANALYZE pending_orders;
            """)
        let plan = try await fixture.psql(
            """
            EXPLAIN SELECT id, finished_ms, mch_id, sub_mch_id, out_trade_no, status, outcome, transaction_id, conflict, last_error, attempts
            FROM pending_orders
            WHERE finished_ms IS NOT NULL AND (finished_ms, id) > (1800000400000, 19990) AND status IN ('closed', 'paid', 'failed')
            ORDER BY finished_ms, id LIMIT 500
            """)
        #expect(plan.contains("pending_orders_feed") && !plan.contains("Seq Scan"), "\(plan)")
        let read = try await readAll(try feed(fixture), page: 5_000)
        #expect(read.count == 20_000 && Set(read.map(\.id)).count == 20_000)
    }
}
