import Foundation
import GRDB
import OrderClosingTestSupport
import StoreTestSupport
import Testing

@testable import SQLiteOrderStore

@Suite struct MigrationTests {
    @Test func migrationsAreIdempotentAndKeepALedger() throws {
        let database = try ScratchDatabase()
        defer { database.remove() }
        #expect(try Migrations.migrate(database.pool).isEmpty)
        let ledger = try database.pool.read { db in try Row.fetchAll(db, sql: "SELECT version, name FROM schema_migrations") }
        #expect(ledger.map { $0["version"] as Int } == Migrations.embedded.map(\.version))
        #expect(try Migrations.currentVersion(database.pool) == Migrations.latestVersion)
    }

    @Test func databaseIsInWALMode() throws {
        let database = try ScratchDatabase()
        defer { database.remove() }
        let mode = try database.pool.read { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") }
        #expect(mode == "wal")
    }

    @Test func refusesANewerSchema() throws {
        let database = try ScratchDatabase()
        defer { database.remove() }
        try database.pool.write { db in
            try db.execute(sql: "INSERT INTO schema_migrations (version, name, applied_ms) VALUES (99, '0099_future', 0)")
        }
        #expect {
            try Migrations.migrate(database.pool)
        } throws: { error in
            "\(error)".contains("schema version 99, newer than this closeorderd knows")
        }
        #expect(throws: StoreError.self) { try SQLiteDatabase.openExisting(path: database.path) }
    }

    /// A version-1 database as a merchant and a version-1 closeorderd left it, upgraded to version 2.
    @Test func upgradesAPopulatedVersionOneDatabase() throws {
        let database = try OlderSchemaDatabase(version: 1)
        defer { database.remove() }
        #expect(try Migrations.currentVersion(database.pool) == 1)
        let created: Int64 = 1_800_000_000
        try database.pool.write { db in
            func order(_ outTradeNo: String, createdAt: Int64 = created, status: String = "pending", extra: String = "") throws {
                try db.execute(
                    sql: """
                        INSERT INTO pending_orders (mch_id, appid, out_trade_no, created_at, timeout_seconds, status)
                        VALUES ('1900000109', 'wx1', ?, ?, 0, ?)
                        """, arguments: [outTradeNo, createdAt, status])
            }
            try order("PENDING")
            try order("LEASED")  // claimed by a version-1 daemon, call in flight
            try db.execute(
                sql: """
                    UPDATE pending_orders SET status = 'closing', lease_owner = 'old:1', lease_token = 'tok', lease_expires_ms = 1800000360000,
                        attempts = 1, first_attempt_ms = 1800000300000, last_attempt_ms = 1800000300000
                    WHERE out_trade_no = 'LEASED'
                    """)
            try order("CLOSED")
            try db.execute(
                sql:
                    "UPDATE pending_orders SET status = 'closed', outcome = 'closed', attempts = 1, finished_ms = 1800000301000 WHERE out_trade_no = 'CLOSED'"
            )
            try order("PAID", status: "paid")
            try order("LEASELESS", status: "closing")  // written by the merchant: no lease
            try order("MILLIS", createdAt: created * 1000)
            try order("MILLIS-PAID", createdAt: created * 1000, status: "paid")
            try order("YEAR-2128", createdAt: 5_000_000_000)
            try order("YEAR-2001", createdAt: 1_000_000_000)  // implausible but due: served as before
            try MerchantStatement(
                sql:
                    "INSERT INTO pending_orders (mch_id, appid, out_trade_no, created_at, timeout_seconds) VALUES ('1900000109', 'wx1', ?, 1800000000, 0)"
            )
            .execute(db, texts: ["A\0B"])
            for (outTradeNo, attempt) in [("CLOSED", 1), ("LEASED", 1)] {
                try db.execute(
                    sql: """
                        INSERT INTO close_attempts (order_id, mch_id, out_trade_no, attempt, operation, started_ms, finished_ms, outcome)
                        SELECT id, mch_id, out_trade_no, ?, 'closeorder', 1800000300000, 1800000301000, 'closed' FROM pending_orders WHERE out_trade_no = ?
                        """, arguments: [attempt, outTradeNo])
            }
        }
        let before = try database.pool.read { db in try Row.fetchAll(db, sql: "SELECT * FROM pending_orders ORDER BY id") }

        #expect(try Migrations.migrate(database.pool) == Migrations.embedded.map(\.version).filter { $0 > 1 })
        #expect(try Migrations.currentVersion(database.pool) == Migrations.latestVersion)
        let (integrity, foreignKeyFaults) = try database.pool.read { db in
            (try String.fetchAll(db, sql: "PRAGMA integrity_check"), try Row.fetchAll(db, sql: "PRAGMA foreign_key_check"))
        }
        #expect(integrity == ["ok"])
        #expect(foreignKeyFaults.isEmpty)

        let after = try database.pool.read { db in try Row.fetchAll(db, sql: "SELECT * FROM pending_orders ORDER BY id") }
        #expect(after.map { $0["id"] as Int64 } == before.map { $0["id"] as Int64 }, "every row is kept")
        func row(_ outTradeNo: String) throws -> Row {
            try #require(after.first { ($0["out_trade_no"] as String) == outTradeNo })
        }
        func unchanged(_ outTradeNo: String) throws -> Bool {
            try row(outTradeNo) == before.first { ($0["out_trade_no"] as String) == outTradeNo }
        }
        for outTradeNo in ["PENDING", "LEASED", "CLOSED", "PAID", "MILLIS-PAID", "YEAR-2001"] {
            #expect(try unchanged(outTradeNo), "\(outTradeNo) changed")
        }
        let millis = try row("MILLIS")
        #expect(millis["status"] as String == "failed")
        #expect((millis["last_error"] as String?)?.hasPrefix("created_at looks like milliseconds; ") == true)
        #expect(millis["finished_ms"] as Int64? != nil && millis["outcome"] as String? == nil && millis["attempts"] as Int == 0)
        let future = try row("YEAR-2128")
        #expect(
            future["status"] as String == "failed"
                && (future["last_error"] as String?)?.hasPrefix("created_at is after 2100-01-01") == true)
        let nul = try #require(after.first { ($0["created_at"] as Int64) == created && ($0["out_trade_no"] as String) == "A" })
        #expect(
            nul["status"] as String == "failed"
                && (nul["last_error"] as String?)?.hasPrefix("out_trade_no contains a NUL or control character") == true)
        let leaseless = try row("LEASELESS")
        #expect(
            leaseless["status"] as String == "pending" && leaseless["in_doubt"] as Int == 0
                && leaseless["lease_token"] as String? == nil)
        #expect((leaseless["last_error"] as String?)?.contains("closing without a lease") == true)

        try database.pool.write { db in
            // The audit rows are kept; they predate the signature flag.
            #expect(try Int.fetchOne(db, sql: "SELECT count(*) FROM close_attempts WHERE verified IS NULL") == 2)
            // The version-1 daemon's lease still finishes by compare-and-set.
            try db.execute(
                sql: """
                    UPDATE pending_orders SET status = 'closed', outcome = 'closed', finished_ms = 1800000302000,
                        lease_owner = NULL, lease_token = NULL, lease_expires_ms = NULL
                    WHERE out_trade_no = 'LEASED' AND lease_token = 'tok' AND status = 'closing'
                    """)
            #expect(db.changesCount == 1)
            // Due work now: the due pending rows, not the failed ones.
            #expect(
                try String.fetchAll(
                    db,
                    sql:
                        "SELECT out_trade_no FROM pending_orders WHERE status = 'pending' AND next_attempt_ms <= 1800000305000 ORDER BY id"
                )
                    == ["PENDING", "LEASELESS", "YEAR-2001"])
        }
        // The new rules hold on the upgraded file.
        for (values, message) in [
            ("'NEW-MS', \(created * 1000), 0, 'pending'", "created_at must be unix seconds"),
            ("'NEW-' || char(0), \(created), 0, 'pending'", "out_trade_no must not contain a NUL"),
            ("'NEW-CLOSING', \(created), 0, 'closing'", "status must be pending or paid at INSERT"),
        ] {
            #expect {
                try database.pool.write { db in
                    try db.execute(
                        sql:
                            "INSERT INTO pending_orders (mch_id, appid, out_trade_no, created_at, timeout_seconds, status) VALUES ('1900000109', 'wx1', \(values))"
                    )
                }
            } throws: { error in
                "\(error)".contains(message)
            }
        }
        #expect(throws: DatabaseError.self) {
            try database.pool.write { db in
                try db.execute(sql: "UPDATE pending_orders SET status = 'closing' WHERE out_trade_no = 'PENDING'")
            }
        }
        // The failed millisecond row comes back once its created_at is fixed (what last_error says to do).
        try database.pool.write { db in
            try db.execute(sql: "UPDATE pending_orders SET created_at = created_at / 1000 WHERE out_trade_no = 'MILLIS'")
            try db.execute(
                sql:
                    "UPDATE pending_orders SET status = 'pending', attempts = 0, finished_ms = NULL WHERE out_trade_no = 'MILLIS' AND status = 'failed'"
            )
            #expect(
                try Int64.fetchOne(db, sql: "SELECT next_attempt_ms FROM pending_orders WHERE out_trade_no = 'MILLIS'")
                    == (created + 300) * 1000)
        }
        #expect(try Migrations.migrate(database.pool).isEmpty)
    }

    @Test func embeddedMigrationsMatchTheSQLFiles() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let folder = root.appendingPathComponent("migrations")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".sql") }.sorted()
        #expect(files.map { String($0.dropLast(4)) } == Migrations.embedded.map(\.name))
        for (file, migration) in zip(files, Migrations.embedded) {
            var text = try String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8)
            if text.hasSuffix("\n") { text.removeLast() }
            #expect(text == migration.sql, "run scripts/embed-migrations after editing \(file)")
        }
    }
}
