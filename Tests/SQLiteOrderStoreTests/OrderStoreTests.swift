import GRDB
import OrderClosing
import OrderClosingTestSupport
import StoreTestSupport
import Testing

@testable import SQLiteOrderStore

/// What only the SQLite store has: its query plans. Behaviour every store shares is in
/// `StoreConformanceTests`.
@Suite struct OrderStoreTests {
    @Test func findingDueWorkUsesThePartialIndex() async throws {
        let database = try ScratchDatabase()
        defer { database.remove() }
        let plan = try await database.pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    EXPLAIN QUERY PLAN SELECT id FROM pending_orders
                    WHERE status = 'pending' AND next_attempt_ms <= 1 ORDER BY next_attempt_ms LIMIT 16
                    """
            ).map { $0["detail"] as String }
        }
        #expect(plan.contains { $0.contains("pending_orders_due") }, "plan: \(plan)")
    }

    @Test func countingOverdueOrdersUsesTheOpenOrdersIndex() async throws {
        let database = try ScratchDatabase()
        defer { database.remove() }
        let plan = try await database.pool.read { db in
            try Row.fetchAll(
                db, sql: "EXPLAIN QUERY PLAN " + OverdueSQL.summary, arguments: OverdueSQL.arguments(.standard, now: 1)
            )
            .map { $0["detail"] as String }
        }
        #expect(plan.contains { $0.contains("pending_orders_open_by_due") }, "plan: \(plan)")
    }
}
