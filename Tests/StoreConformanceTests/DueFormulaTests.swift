import GRDB
import OrderClosing
import Testing

@testable import PostgresOrderStore
@testable import SQLiteOrderStore

/// The due formula is written once (`DueFormula`, from `DuePolicy`): its SQL computes what the
/// Swift policy computes, and its `floor` is word for word the expression both schemas index.
@Suite struct DueFormulaTests {
    @Test(arguments: [
        (1_800_000_000 as Int64, 0 as Int64), (1_800_000_000, 299), (1_800_000_000, 301), (1_800_000_000, 315_360_000),
    ])
    func sqliteSQLComputesWhatThePolicyComputes(createdAt: Int64, timeout: Int64) throws {
        let policy = try DuePolicy(minAgeSeconds: 420, marginSeconds: 7)
        let queue = try DatabaseQueue()
        let (ownDue, due) = try queue.read { db in
            let row = try #require(
                try Row.fetchOne(
                    db,
                    sql: """
                        SELECT \(DueFormula.sqlite.ownDue(minAge: "?", margin: "?")) AS own,
                               \(DueFormula.sqlite.due(minAge: "?", margin: "?")) AS due
                        FROM (SELECT ? AS created_at, ? AS timeout_seconds, ? AS next_attempt_ms)
                        """,
                    arguments: [
                        policy.minAgeSeconds, policy.marginSeconds, policy.minAgeSeconds, policy.marginSeconds, createdAt,
                        timeout,
                        createdAt * 1000 + 1,
                    ]))
            return (row["own"] as Int64, row["due"] as Int64)
        }
        #expect(ownDue == policy.dueTime(createdAt: createdAt, timeoutSeconds: timeout))
        #expect(due == ownDue)  // a retry time below the own due time never brings it forward
    }

    @Test func theFloorIsTheExpressionBothSchemasIndex() {
        let sqlite = Migrations.embedded.map(\.sql).joined()
        #expect(sqlite.contains("ON pending_orders (\(DueFormula.sqlite.floor))"))
        let postgres = PostgresMigrations.embedded.map(\.sql).joined()
        #expect(postgres.contains("ON pending_orders ((\(DueFormula.postgres.floor)))"))
    }
}
