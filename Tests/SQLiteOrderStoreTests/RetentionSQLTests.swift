import Foundation
import GRDB
import OrderClosing
import OrderClosingTestSupport
import StoreTestSupport
import Testing

@testable import SQLiteOrderStore

/// What only SQLite has: the index the pruning SQL uses, and space given back to the filesystem.
@Suite struct RetentionSQLTests {
    static let created: Int64 = 1_800_000_000

    /// `count` orders finished (closed) at `finishedMs`, each with two attempts, written as the
    /// daemon leaves them; padded so that deleting them frees whole pages. Written through GRDB's
    /// async API, off the cooperative pool, which other suites' tasks share.
    func fill(_ database: ScratchDatabase, count: Int, finishedMs: Int64, prefix: String = "F") async throws {
        try await database.pool.write { db in
            for index in 0..<count {
                try db.execute(
                    sql: """
                        INSERT INTO pending_orders (mch_id, appid, out_trade_no, created_at, timeout_seconds) VALUES ('1900000109', 'wx1', ?, ?, 0)
                        """, arguments: ["\(prefix)\(index)", Self.created])
                let id = db.lastInsertedRowID
                try db.execute(
                    sql: """
                        UPDATE pending_orders SET status = 'closed', outcome = 'closed', attempts = 2, finished_ms = ?, last_error = ? WHERE id = ?
                        """, arguments: [finishedMs, String(repeating: "x", count: 200), id])
                for attempt in 1...2 {
                    try db.execute(
                        sql: """
                            INSERT INTO close_attempts (order_id, mch_id, out_trade_no, attempt, operation, started_ms, finished_ms, outcome, error)
                            VALUES (?, '1900000109', ?, ?, 'closeorder', ?, ?, 'closed', ?)
                            """,
                        arguments: [
                            id, "\(prefix)\(index)", attempt, finishedMs - 10, finishedMs, String(repeating: "y", count: 200),
                        ])
                }
            }
        }
    }

    @Test func aNewDatabaseUsesIncrementalAutoVacuum() throws {
        let database = try ScratchDatabase()
        defer { database.remove() }
        #expect(try database.pool.read { try SQLiteDatabase.autoVacuumMode($0) } == .incremental)
    }

    @Test func thePruningQueriesUseTheFinishedIndex() throws {
        let database = try ScratchDatabase()
        defer { database.remove() }
        let plans = try database.pool.read { db in
            try [
                SQLiteOrderStore.oldestFinished,
                "SELECT status, count(*) FROM pending_orders WHERE \(SQLiteOrderStore.finishedBefore) GROUP BY status",
                "DELETE FROM close_attempts WHERE order_id IN (\(SQLiteOrderStore.oldestFinished))",
            ].map { sql in
                try Row.fetchAll(
                    db, sql: "EXPLAIN QUERY PLAN \(sql)", arguments: sql.hasPrefix("SELECT status") ? [0] : [0, 300]
                )
                .map { $0["detail"] as String }.joined(separator: " | ")
            }
        }
        #expect(
            plans[0].contains("USING INDEX pending_orders_finished") && !plans[0].contains("SCAN pending_orders"), "\(plans[0])")
        #expect(plans[1].contains("USING INDEX pending_orders_finished"), "\(plans[1])")
        #expect(
            plans[2].contains("INDEX close_attempts_order") && !plans[2].contains("SCAN")
                && plans[2].contains("USING INDEX pending_orders_finished"), "\(plans[2])")
    }

    @Test func prunedPagesAreGivenBackInSteps() async throws {
        let database = try ScratchDatabase()
        defer { database.remove() }
        try await fill(database, count: 3_000, finishedMs: Self.created * 1000)
        try await fill(database, count: 100, finishedMs: Self.created * 1000 + 86_400_000, prefix: "KEEP")
        let pagesBefore = try await database.pool.read { try Int.fetchOne($0, sql: "PRAGMA page_count") ?? 0 }
        var pruned = PrunedOrders()
        while true {
            let batch = try await database.sqliteStore.pruneFinishedOrders(finishedBefore: Self.created * 1000 + 1, limit: 300)
            pruned = pruned + batch
            if batch.total < 300 { break }
        }
        #expect(pruned == PrunedOrders(orders: [.closed: 3_000], attempts: 6_000))
        let free = try await database.pool.read { try Int.fetchOne($0, sql: "PRAGMA freelist_count") ?? 0 }
        #expect(free > 100)
        var left = free
        while left > 0 {
            let next = try await database.sqliteStore.reclaimFreeSpace(pages: 64)
            #expect(next < left && left - next <= 64, "one step gives back at most the pages asked for (\(left) → \(next))")
            guard next < left else { break }
            left = next
        }
        let pagesAfter = try await database.pool.read { try Int.fetchOne($0, sql: "PRAGMA page_count") ?? 0 }
        #expect(pagesAfter <= pagesBefore - free / 2, "\(pagesBefore) pages before, \(pagesAfter) after, \(free) were free")
        #expect(try await database.pool.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM pending_orders") } == 100)
        #expect(try await database.pool.read { try String.fetchAll($0, sql: "PRAGMA integrity_check") } == ["ok"])
    }

    @Test func anOlderDatabaseKeepsItsPagesUntilOneVacuumSwitchesIt() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("closeorderd-vacuum-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("orders.sqlite").path
        // A file created by another program (as every database created before schema version 4
        // was, in effect): a table exists before closeorderd opens it, so its mode stays.
        let other = try DatabaseQueue(path: path)
        try await other.write { db in try db.execute(sql: "CREATE TABLE merchant_notes (note TEXT) STRICT") }
        try other.close()
        let pool = try SQLiteDatabase.open(path: path)
        try Migrations.migrate(pool)
        #expect(try await pool.read { try SQLiteDatabase.autoVacuumMode($0) } == SQLiteVacuumMode.none)
        let store = SQLiteOrderStore(pool: pool)
        #expect(try await store.reclaimFreeSpace(pages: 64) == 0, "nothing to give back step by step in this mode")
        #expect(try await pool.writeWithoutTransaction { try SQLiteDatabase.useIncrementalVacuum($0) })
        #expect(try await pool.read { try SQLiteDatabase.autoVacuumMode($0) } == .incremental)
        #expect(try await pool.writeWithoutTransaction { try SQLiteDatabase.useIncrementalVacuum($0) } == false, "once is enough")
        #expect(try await pool.read { try String.fetchOne($0, sql: "PRAGMA journal_mode") } == "wal")
    }
}
