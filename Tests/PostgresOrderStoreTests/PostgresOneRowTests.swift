import Foundation
import OrderClosing
import OrderClosingTestSupport
import StoreTestSupport
import Testing

@testable import PostgresOrderStore

/// Issue 21 on PostgreSQL: the row that stopped every merchant is refused at INSERT naming the
/// column, rows stored before migration 5 are made harmless, and a row that still fails its claim
/// ends failed while the others are claimed. Skipped, saying what to install, without PostgreSQL.
@Suite(.enabled(if: PostgresTestCluster.shouldRun, Comment(rawValue: PostgresTestCluster.missingMessage)))
struct PostgresOneRowTests {
    static let created: Int64 = 1_800_000_000
    static let dueMs = DuePolicy.standard.dueTime(createdAt: created, timeoutSeconds: 0)

    func refusal(_ fixture: PostgresScratchDatabase, createdAt: String, timeout: String) async -> String {
        do {
            try await fixture.psql(
                """
                INSERT INTO pending_orders (mch_id, appid, out_trade_no, created_at, timeout_seconds)
                VALUES ('1900000109', 'wx1', 'X-' || floor(random() * 1e9)::bigint, \(createdAt), \(timeout))
                """)
            return "accepted"
        } catch {
            return "\(error)"
        }
    }

    @Test func theIssuesRowIsRefusedAtInsertNamingTheColumn() async throws {
        let fixture = try await PostgresScratchDatabase()
        defer { fixture.remove() }
        let rule = "pending_orders_timeout_seconds_is_at_most_10_years"
        let issue = await refusal(fixture, createdAt: "1700000000", timeout: "9223370336854775")
        #expect(issue.contains(rule) && issue.contains("timeout_seconds"), "\(issue)")
        // With created_at = now() the generated next_attempt_ms overflowed before any CHECK ran:
        // "bigint out of range", naming no column. The BEFORE trigger names it first now.
        let now = await refusal(fixture, createdAt: "floor(extract(epoch from now()))::bigint", timeout: "9223370336854775")
        #expect(now.contains(rule) && now.contains("timeout_seconds") && !now.contains("bigint out of range"), "\(now)")
        let huge = await refusal(fixture, createdAt: "floor(extract(epoch from now()))::bigint", timeout: "9223372036854775807")
        #expect(huge.contains(rule), "\(huge)")
        let createdHuge = await refusal(fixture, createdAt: "9223372036854775", timeout: "0")
        #expect(
            createdHuge.contains("pending_orders_created_at_is_unix_seconds") && !createdHuge.contains("bigint out of range"),
            "\(createdHuge)")
        #expect(await refusal(fixture, createdAt: "1800000000", timeout: "\(DuePolicy.maxTimeoutSeconds + 1)").contains(rule))
        #expect(await refusal(fixture, createdAt: "1800000000", timeout: "\(DuePolicy.maxTimeoutSeconds)") == "accepted")
        let update = Result {
            try fixture.cluster.psql("UPDATE pending_orders SET timeout_seconds = timeout_seconds + 1", database: fixture.name)
        }
        #expect("\(update)".contains(rule))
    }

    /// A database at version 3 holding the issue's rows upgrades without failing; every due-time
    /// query then works, and the row is failed with the reason.
    @Test func rowsStoredBeforeTheBoundAreMadeHarmlessByTheMigration() async throws {
        let fixture = try await PostgresScratchDatabase()
        defer { fixture.remove() }
        // Back to version 3, as an older closeorderd left it.
        try await fixture.psql(
            """
            DROP TRIGGER pending_orders_feed_stamp ON pending_orders;
            DROP FUNCTION closeorderd_feed_stamp();
            DROP TABLE closeorderd_feed_clock;
            DROP INDEX pending_orders_feed;
            DROP TRIGGER pending_orders_due_terms_are_in_range ON pending_orders;
            DROP TRIGGER pending_orders_decided_is_not_in_doubt ON pending_orders;
            DROP FUNCTION pending_orders_due_terms_are_in_range();
            DROP FUNCTION pending_orders_decided_is_not_in_doubt();
            ALTER TABLE pending_orders DROP CONSTRAINT pending_orders_timeout_seconds_is_at_most_10_years;
            ALTER TABLE close_attempts DROP CONSTRAINT close_attempts_outcome_is_one_vocabulary;
            DELETE FROM schema_migrations WHERE version >= 4;
            """)
        try await fixture.place("HUGE", createdAt: 1_700_000_000, timeout: 9_223_370_336_854_775)
        try await fixture.place("HUGE-PAID", createdAt: Self.created, timeout: 9_000_000_000)
        try await fixture.markPaidByApp("HUGE-PAID")
        try await fixture.place("FINE", createdAt: Self.created, timeout: 0)
        try await fixture.place("DOUBTED", createdAt: Self.created + 1, timeout: 0)
        try await fixture.psql(
            "UPDATE pending_orders SET status = 'closed', outcome = 'closed', in_doubt = 1, finished_ms = 1 WHERE out_trade_no = 'DOUBTED'"
        )
        // Version 3 fails here (issue 21): a queue-wide error caused by one row.
        try await fixture.psql("UPDATE pending_orders SET retry_at_ms = 1 WHERE out_trade_no = 'HUGE'")  // `retry-now`

        #expect(try await fixture.database.migrate().contains(5))
        let huge = try #require(try await fixture.stored("HUGE"))
        #expect(
            huge.status == .failed
                && huge.lastError?.hasPrefix("timeout_seconds was 9223370336854775, beyond 315360000 (10 years)") == true)
        let paid = try #require(try await fixture.row("HUGE-PAID"))
        #expect(
            paid["status"] as? String == "paid"
                && (paid["timeout_seconds"] as? NSNumber)?.int64Value == DuePolicy.maxTimeoutSeconds)
        #expect(try await fixture.stored("DOUBTED")?.inDoubt == false)
        let store = fixture.postgresStore
        let now = Self.dueMs + 10_000
        #expect(try await store.list(OrderFilter(limit: 10), now: now).count == 4)
        _ = try await store.status(now: now)
        _ = try await store.summary(now: now)
        #expect(try await store.nextDueTime(admittedBy: ClaimRequest(limit: 10)) == Self.dueMs)
        #expect(
            try await store.claimDue(ClaimRequest(limit: 10), now: now, leaseOwner: "me", leaseUntil: now + 60_000).map(
                \.outTradeNo) == ["FINE"])
    }

    /// The claim's own defence, on a version-3 schema that still admits the issue's row after a
    /// `retry-now`: computing its due time fails ("bigint out of range", which stopped every
    /// merchant's claims), so that row ends failed and the due order beside it is claimed.
    @Test func theIssuesRowOnTheOldSchemaNoLongerStopsTheClaim() async throws {
        let fixture = try await PostgresScratchDatabase()
        defer { fixture.remove() }
        try await fixture.psql(
            """
            DROP TRIGGER pending_orders_due_terms_are_in_range ON pending_orders;
            ALTER TABLE pending_orders DROP CONSTRAINT pending_orders_timeout_seconds_is_at_most_10_years;
            """)
        try await fixture.place("HUGE", createdAt: 1_700_000_000, timeout: 9_223_370_336_854_775)
        try await fixture.place("FINE", createdAt: Self.created, timeout: 0)
        try await fixture.psql("UPDATE pending_orders SET retry_at_ms = 1 WHERE out_trade_no = 'HUGE'")  // `retry-now`
        let now = Self.dueMs + 10_000
        let claimed = try await fixture.store.claimDue(
            ClaimRequest(limit: 10), now: now, leaseOwner: "me", leaseUntil: now + 60_000)
        #expect(claimed.map(\.outTradeNo) == ["FINE"])
        let huge = try #require(try await fixture.stored("HUGE"))
        #expect(huge.status == .failed && huge.lastError?.contains("bigint out of range") == true, "\(huge)")
    }

    /// Defence in depth: a row whose claim fails by its own values (`attempts` at the top of its
    /// range: `attempts + 1` is out of range) ends failed with the reason; the others are claimed,
    /// and the writes recorded in the same transaction land.
    @Test func aRowThatFailsItsClaimEndsFailedAndTheOthersAreClaimed() async throws {
        let fixture = try await PostgresScratchDatabase()
        defer { fixture.remove() }
        try await fixture.place("BROKEN", createdAt: Self.created - 1)
        for index in 0..<5 { try await fixture.place("OK-\(index)", createdAt: Self.created + Int64(index)) }
        try await fixture.place("EARLIER", createdAt: Self.created - 2)
        let earlier = try #require(
            try await fixture.store.claimDue(
                ClaimRequest(limit: 1), now: Self.dueMs + 10_000, leaseOwner: "me",
                leaseUntil: Self.dueMs + 70_000
            ).first)
        try await fixture.psql("UPDATE pending_orders SET attempts = 9223372036854775807 WHERE out_trade_no = 'BROKEN'")
        let now = Self.dueMs + 10_000
        let write = OrderWrite(
            order: earlier, change: .finish(.closed, outcome: "closed", transactionID: nil, reason: nil), attempts: [])
        let (recorded, claimed) = try await fixture.store.recordAndClaim(
            [write], claim: ClaimRequest(limit: 4), now: now, leaseOwner: "me",
            leaseUntil: now + 60_000)
        #expect(recorded == [.applied])
        #expect(Set(claimed.map(\.outTradeNo)) == ["OK-0", "OK-1", "OK-2"])
        #expect(try await fixture.stored("EARLIER")?.status == .closed)
        let broken = try #require(try await fixture.stored("BROKEN"))
        #expect(broken.status == .failed && broken.lastError?.contains("bigint out of range") == true, "\(broken)")
        #expect(
            Set(
                try await fixture.store.claimDue(ClaimRequest(limit: 4), now: now, leaseOwner: "me", leaseUntil: now + 60_000)
                    .map(\.outTradeNo)) == ["OK-3", "OK-4"])
    }
}
