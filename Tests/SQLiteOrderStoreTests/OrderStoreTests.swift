import OrderClosingTestSupport
import GRDB
import OrderClosing
import Testing
import WeChatPayV2
@testable import SQLiteOrderStore

/// The store on a real SQLite file, with `now` passed in.
@Suite struct OrderStoreTests {
    static let created: Int64 = 1_800_000_000
    static let createdMs = created * 1000

    func claim(_ store: SQLiteOrderStore, at now: Int64, limit: Int = 100, excluding: Set<String> = [], lease: Int64 = 60_000) async throws -> [ClaimedOrder] {
        try await store.claimDue(now: now, limit: limit, excludedMerchants: excluding, leaseOwner: "test", leaseUntil: now + lease)
    }

    @Test func claimsOnlyDueOrdersWithTheFiveMinuteFloor() async throws {
        let database = try ScratchDatabase()
        defer { database.remove() }
        try database.insert("SHORT", createdAt: Self.created, timeout: 60)      // due at +300 s (floor)
        try database.insert("LONG", createdAt: Self.created, timeout: 900)      // due at +900 s
        try database.insert("ZERO", createdAt: Self.created, timeout: 0)        // due at +300 s

        #expect(try await claim(database.store, at: Self.createdMs + 299_999).isEmpty)
        #expect(try await database.store.nextDueTime(excludedMerchants: []) == Self.createdMs + 300_000)
        let first = try await claim(database.store, at: Self.createdMs + 300_000)
        #expect(Set(first.map(\.outTradeNo)) == ["SHORT", "ZERO"])
        #expect(first.allSatisfy { $0.attempt == 1 && $0.firstAttemptAt == Self.createdMs + 300_000 })
        #expect(try await claim(database.store, at: Self.createdMs + 899_999).isEmpty)
        #expect(try await claim(database.store, at: Self.createdMs + 900_000).map(\.outTradeNo) == ["LONG"])
        let row = try #require(try database.row("SHORT"))
        #expect(row["status"] as String == "closing")
        #expect(row["lease_owner"] as String == "test")
        #expect(row["attempts"] as Int == 1)
    }

    @Test func aRaisedMinimumAgeDelaysClaims() async throws {
        let database = try ScratchDatabase(due: try DuePolicy(minAgeSeconds: 600, marginSeconds: 5))
        defer { database.remove() }
        try database.insert("A", createdAt: Self.created, timeout: 0)
        #expect(try await claim(database.store, at: Self.createdMs + 604_999).isEmpty)
        #expect(try await database.store.nextDueTime(excludedMerchants: []) == Self.createdMs + 605_000)
        #expect(try await claim(database.store, at: Self.createdMs + 605_000).count == 1)
    }

    @Test func claimsRespectTheLimitAndExcludedMerchants() async throws {
        let database = try ScratchDatabase()
        defer { database.remove() }
        for index in 0..<5 { try database.insert("A\(index)", createdAt: Self.created) }
        try database.insert("B0", createdAt: Self.created, mchID: "1900000110")
        let now = Self.createdMs + 300_000
        #expect(try await claim(database.store, at: now, limit: 2, excluding: ["1900000110"]).count == 2)
        let rest = try await claim(database.store, at: now, excluding: ["1900000110"])
        #expect(rest.count == 3 && rest.allSatisfy { $0.mchID == "1900000109" })
        #expect(try await database.store.nextDueTime(excludedMerchants: ["1900000110"]) == nil)
        #expect(try await claim(database.store, at: now).map(\.outTradeNo) == ["B0"])
    }

    @Test func findingDueWorkUsesThePartialIndex() async throws {
        let database = try ScratchDatabase()
        defer { database.remove() }
        let plan = try await database.pool.read { db in
            try Row.fetchAll(db, sql: """
                EXPLAIN QUERY PLAN SELECT id FROM pending_orders
                WHERE status = 'pending' AND next_attempt_ms <= 1 ORDER BY next_attempt_ms LIMIT 16
                """).map { $0["detail"] as String }
        }
        #expect(plan.contains { $0.contains("pending_orders_due") }, "plan: \(plan)")
    }

    @Test func finishingIsACompareAndSetThatKeepsTheMerchantsPaid() async throws {
        let database = try ScratchDatabase()
        defer { database.remove() }
        try database.insert("RACE", createdAt: Self.created)
        try database.insert("CALM", createdAt: Self.created)
        let claimed = try await claim(database.store, at: Self.createdMs + 300_000)
        try database.markPaid("RACE")   // the payment notification arrives while the close is in flight

        let writes = claimed.map { order in
            OrderWrite(order: order, change: .finish(.closed, outcome: "closed", transactionID: nil, reason: nil),
                       attempts: [attempt(order)])
        }
        let results = try await database.store.record(writes, now: Self.createdMs + 300_100)
        #expect(Dictionary(uniqueKeysWithValues: zip(claimed.map(\.outTradeNo), results)) ==
                ["RACE": .conflict(current: .paid), "CALM": .applied])
        let race = try #require(try database.row("RACE"))
        #expect(race["status"] as String == "paid")
        #expect((race["conflict"] as String?)?.contains("closed while the row was paid") == true)
        #expect(try database.row("CALM")?["status"] as String? == "closed")
        #expect(try database.row("CALM")?["outcome"] as String? == "closed")
        // The audit keeps both attempts, conflict or not.
        #expect(try database.attempts("RACE").count == 1)
        #expect(try database.attempts("CALM").count == 1)
    }

    @Test func aStaleLeaseTokenCannotWrite() async throws {
        let database = try ScratchDatabase()
        defer { database.remove() }
        try database.insert("STALE", createdAt: Self.created)
        let order = try #require(try await claim(database.store, at: Self.createdMs + 300_000, lease: 1_000).first)
        // The lease expires and a rescuer gives the order to another claim.
        #expect(try await database.store.rescueExpiredLeases(now: Self.createdMs + 302_000) == 1)
        let rescued = try #require(try database.row("STALE"))
        #expect(rescued["status"] as String == "pending")
        #expect(rescued["in_doubt"] as Int == 1)
        let second = try #require(try await claim(database.store, at: Self.createdMs + 302_000).first)
        #expect(second.inDoubt && second.attempt == 2)

        let late = OrderWrite(order: order, change: .finish(.failed, outcome: nil, transactionID: nil, reason: "late"), attempts: [])
        #expect(try await database.store.record([late], now: Self.createdMs + 303_000) == [.conflict(current: .closing)])
        #expect(try database.row("STALE")?["status"] as String? == "closing")
    }

    @Test func rescueLeavesLiveLeasesAlone() async throws {
        let database = try ScratchDatabase()
        defer { database.remove() }
        try database.insert("LIVE", createdAt: Self.created)
        _ = try await claim(database.store, at: Self.createdMs + 300_000, lease: 60_000)
        #expect(try await database.store.rescueExpiredLeases(now: Self.createdMs + 359_999) == 0)
    }

    @Test func retryRefundsAttemptsOnlyWhenAsked() async throws {
        let database = try ScratchDatabase()
        defer { database.remove() }
        try database.insert("R1", createdAt: Self.created)
        try database.insert("R2", createdAt: Self.created)
        let claimed = try await claim(database.store, at: Self.createdMs + 300_000).sorted { $0.outTradeNo < $1.outTradeNo }
        let retryAt = Self.createdMs + 310_000
        _ = try await database.store.record([
            OrderWrite(order: claimed[0], change: .retry(at: retryAt, reason: "SYSTEMERROR", inDoubt: false, refundAttempt: false), attempts: []),
            OrderWrite(order: claimed[1], change: .retry(at: retryAt, reason: "outage", inDoubt: false, refundAttempt: true), attempts: []),
        ], now: Self.createdMs + 300_100)
        #expect(try database.row("R1")?["attempts"] as Int? == 1)
        #expect(try database.row("R2")?["attempts"] as Int? == 0)
        #expect(try database.row("R1")?["next_attempt_ms"] as Int64? == retryAt)
        #expect(try await claim(database.store, at: retryAt - 1).isEmpty)
        #expect(try await claim(database.store, at: retryAt).count == 2)
    }

    @Test func releaseGivesBackUnstartedClaims() async throws {
        let database = try ScratchDatabase()
        defer { database.remove() }
        try database.insert("U1", createdAt: Self.created)
        let claimed = try await claim(database.store, at: Self.createdMs + 300_000)
        try await database.store.release(claimed, now: Self.createdMs + 300_001)
        let row = try #require(try database.row("U1"))
        #expect(row["status"] as String == "pending")
        #expect(row["attempts"] as Int == 0)
        #expect(row["lease_token"] as String? == nil)
    }

    @Test func recordsABatchInOneCall() async throws {
        let database = try ScratchDatabase()
        defer { database.remove() }
        for index in 0..<32 { try database.insert("B\(index)", createdAt: Self.created) }
        let claimed = try await claim(database.store, at: Self.createdMs + 300_000, limit: 32)
        #expect(claimed.count == 32)
        let writes = claimed.map { OrderWrite(order: $0, change: .finish(.closed, outcome: "already_closed", transactionID: nil, reason: nil), attempts: [attempt($0)]) }
        let results = try await database.store.record(writes, now: Self.createdMs + 300_100)
        #expect(results.allSatisfy { $0 == .applied })
        let closed = try await database.pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM pending_orders WHERE status = 'closed'") }
        #expect(closed == 32)
        #expect(try await database.pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM close_attempts") } == 32)
    }

    @Test func summaryCountsQueueAndLag() async throws {
        let database = try ScratchDatabase()
        defer { database.remove() }
        try database.insert("S1", createdAt: Self.created)
        try database.insert("S2", createdAt: Self.created + 100)
        let summary = try await database.store.summary(now: Self.createdMs + 310_000)
        #expect(summary.counts["due"] == 1)   // S2 falls due 90 s later
        #expect(summary.oldestDueLagMs == 10_000)
    }

    func attempt(_ order: ClaimedOrder) -> AttemptRecord {
        AttemptRecord(call: .closeOrder, attempt: order.attempt, startedAt: Self.createdMs + 300_000, finishedAt: Self.createdMs + 300_050,
                      endpoint: "http://127.0.0.1:1", response: ResponseSummary(httpStatus: 200, returnCode: "SUCCESS", resultCode: "SUCCESS"),
                      outcome: "closed", error: nil)
    }
}
