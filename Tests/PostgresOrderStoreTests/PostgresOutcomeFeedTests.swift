import Foundation
import OrderClosing
import OrderClosingTestSupport
import StoreTestSupport
import Testing
import WeChatPayV2

@testable import PostgresOrderStore

/// What only PostgreSQL has: several transactions committing at once (daemons on several hosts,
/// the app), and NOTIFY on `closeorderd_outcomes`.
@Suite(.enabled(if: PostgresTestCluster.shouldRun)) struct PostgresOutcomeFeedTests {
    static let created = StoreFixtureDefaults.created

    func place(_ fixture: PostgresScratchDatabase, _ names: [String]) async throws {
        for name in names { try await fixture.place(name, createdAt: Self.created) }
    }

    /// Two transactions finish a row each with the same finished_ms; the one with the higher id
    /// commits first and is read; the other commits later and must still come after the cursor.
    @Test func aTransactionThatCommitsLaterIsStampedAboveOneThatCommittedBefore() async throws {
        let fixture = try await PostgresScratchDatabase()
        defer { fixture.remove() }
        try await place(fixture, ["LOW-ID-COMMITS-LAST", "HIGH-ID-COMMITS-FIRST"])
        let feed = fixture.postgresStore
        let finish = { @Sendable (name: String) in
            "UPDATE pending_orders SET status = 'closed', outcome = 'closed', finished_ms = 1800000400000 WHERE out_trade_no = '\(name)'"
        }
        let database = fixture.database
        let (firstRead, laterRead) = try await database.withSession { late in
            try await late.execute("BEGIN")
            try await late.execute(finish("LOW-ID-COMMITS-LAST"))
            try await database.withSession { early in
                try await early.execute("BEGIN")
                try await early.execute(finish("HIGH-ID-COMMITS-FIRST"))
                try await early.execute("COMMIT")
            }
            let firstRead = try await feed.finishedOrders(after: .start, limit: 10)
            try await late.execute("COMMIT")
            let laterRead = try await feed.finishedOrders(after: firstRead.last?.cursor ?? .start, limit: 10)
            return (firstRead, laterRead)
        }
        #expect(firstRead.map(\.outTradeNo) == ["HIGH-ID-COMMITS-FIRST"])
        #expect(laterRead.map(\.outTradeNo) == ["LOW-ID-COMMITS-LAST"], "the later commit was skipped: \(laterRead)")
    }

    @Test func listenHearsEachOutcomeAtItsCommitAndNothingOfARolledBackOne() async throws {
        let fixture = try await PostgresScratchDatabase()
        defer { fixture.remove() }
        try await place(fixture, ["ROLLED-BACK", "APP-PAID", "WECHAT-PAID"])
        var notifications = fixture.database.outcomeNotifications().makeAsyncIterator()
        #expect(await notifications.next() == .some(nil), "the first wake-up says LISTEN is on")

        try await fixture.database.withSession { session in
            try await session.execute("BEGIN")
            try await session.execute("UPDATE pending_orders SET status = 'paid' WHERE out_trade_no = 'ROLLED-BACK'")
            try await session.execute("ROLLBACK")
        }
        try await fixture.markPaidByApp("APP-PAID")
        let appPaid = try payload(await notifications.next())
        #expect(appPaid["out_trade_no"] as? String == "APP-PAID" && appPaid["status"] as? String == "paid", "\(appPaid)")
        #expect(appPaid["mch_id"] as? String == StoreFixtureDefaults.mchID && appPaid["outcome"] is NSNull)

        let now = StoreFixtureDefaults.dueMs
        let claimed = try await fixture.store.claimDue(
            ClaimRequest(limit: 10), now: now, leaseOwner: "test", leaseUntil: now + 60_000)
        let order = try #require(claimed.first { $0.outTradeNo == "WECHAT-PAID" })
        _ = try await fixture.store.record(
            [
                OrderWrite(
                    order: order, change: .finish(.paid, outcome: "paid", transactionID: "4200000000202612070001", reason: nil),
                    attempts: [])
            ], now: now + 100)
        let wechatPaid = try payload(await notifications.next())
        #expect(wechatPaid["out_trade_no"] as? String == "WECHAT-PAID" && wechatPaid["outcome"] as? String == "paid")
        #expect(wechatPaid["transaction_id"] as? String == "4200000000202612070001")
        let row = try #require(try await fixture.postgresStore.finishedOrders(after: .start, limit: 10).last)
        #expect(
            row.outTradeNo == "WECHAT-PAID" && (wechatPaid["finished_ms"] as? NSNumber)?.int64Value == row.finishedMs
                && (wechatPaid["id"] as? NSNumber)?.int64Value == row.id)
    }

    func payload(_ next: String??) throws -> [String: Any] {
        let text = try #require(next ?? nil, "no notification")
        return try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }
}
