import OrderClosingTestSupport
import Foundation
import GRDB
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

    @Test func embeddedMigrationsMatchTheSQLFiles() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
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
