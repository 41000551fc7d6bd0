import GRDB

/// One numbered SQL file from `migrations/`.
public struct Migration: Sendable, Hashable {
    public let version: Int
    public let name: String
    public let sql: String
}

/// Applies the embedded copies of `migrations/*.sql` in order, each in its own transaction, and
/// keeps a ledger in `schema_migrations`. Idempotent; refuses a database from a newer closeorderd.
public enum Migrations {
    public static var latestVersion: Int { embedded.map(\.version).max() ?? 0 }

    /// Applies what is missing, up to `target` (tests stop early to build an older database), and
    /// returns the versions applied now.
    @discardableResult
    public static func migrate(_ writer: some DatabaseWriter, upTo target: Int = latestVersion) throws -> [Int] {
        try writer.writeWithoutTransaction { db in
            // A new database gets incremental auto-vacuum, so retention can give space back; the
            // mode can only be set before the first table (an old database: `prune --vacuum`).
            // `SQLiteDatabase.open` sets it before WAL; the VACUUM (of an empty file) is for other writers.
            if try SQLiteDatabase.isEmpty(db) { try SQLiteDatabase.useIncrementalVacuum(db) }
            try db.execute(
                sql: """
                    CREATE TABLE IF NOT EXISTS schema_migrations (
                        version    INTEGER PRIMARY KEY,
                        name       TEXT    NOT NULL,
                        applied_ms INTEGER NOT NULL
                    ) STRICT
                    """)
            let applied = try Set(Int.fetchAll(db, sql: "SELECT version FROM schema_migrations"))
            if let newest = applied.max(), newest > latestVersion {
                throw StoreError.newerSchema(found: newest, known: latestVersion)
            }
            var appliedNow: [Int] = []
            for migration in embedded.sorted(by: { $0.version < $1.version })
            where migration.version <= target && !applied.contains(migration.version) {
                try db.inTransaction(.immediate) {
                    try db.execute(sql: migration.sql)
                    try db.execute(
                        sql:
                            "INSERT INTO schema_migrations (version, name, applied_ms) VALUES (?, ?, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER))",
                        arguments: [migration.version, migration.name])
                    return .commit
                }
                appliedNow.append(migration.version)
            }
            return appliedNow
        }
    }

    /// The schema version recorded in the ledger (0 for an empty database).
    public static func currentVersion(_ reader: some DatabaseReader) throws -> Int {
        try reader.read { db in
            guard try db.tableExists("schema_migrations") else { return 0 }
            return try Int.fetchOne(db, sql: "SELECT max(version) FROM schema_migrations") ?? 0
        }
    }
}
