import GRDB
import OrderClosing

/// The queue's SQLite file as the command line meets it: opened for the daemon (created and
/// migrated), for an operator (existing and current, read-only unless it writes) or for `migrate`;
/// the store on it; and what only a SQLite file has (its vacuum mode, its size). The shell opens
/// files through this and never touches GRDB itself.
public struct SQLiteQueueFile: Sendable {
    public let path: String
    let pool: DatabasePool

    /// Creates the file if missing and brings its schema up to date (the daemon, the demo).
    public static func openMigrated(path: String, busyTimeoutSeconds: Double = 5) throws -> SQLiteQueueFile {
        SQLiteQueueFile(path: path, pool: try SQLiteDatabase.openMigrated(path: path, busyTimeoutSeconds: busyTimeoutSeconds))
    }

    /// An existing file whose schema is this closeorderd's (operator commands never migrate).
    public static func openExisting(path: String, readonly: Bool) throws -> SQLiteQueueFile {
        SQLiteQueueFile(path: path, pool: try SQLiteDatabase.openExisting(path: path, readonly: readonly))
    }

    /// `closeorderd migrate`: applies what the file lacks; returns the versions applied now and
    /// the schema version after.
    public static func migrate(path: String) throws -> (applied: [Int], version: Int) {
        let pool = try SQLiteDatabase.open(path: path)
        let applied = try Migrations.migrate(pool)
        return (applied, try Migrations.currentVersion(pool))
    }

    public func store(due: DuePolicy) -> SQLiteOrderStore {
        SQLiteOrderStore(pool: pool, due: due)
    }

    public func autoVacuumMode() async throws -> SQLiteVacuumMode {
        try await pool.read { try SQLiteDatabase.autoVacuumMode($0) }
    }

    /// `SQLiteDatabase.useIncrementalVacuum`: a full rewrite of the file unless it is already in
    /// that mode (false then).
    @discardableResult
    public func useIncrementalVacuum() async throws -> Bool {
        try await pool.writeWithoutTransaction { try SQLiteDatabase.useIncrementalVacuum($0) }
    }

    /// Moves the WAL's pages into the file and truncates the WAL, so the file's size is its size.
    public func checkpoint() async throws {
        try await pool.writeWithoutTransaction { db in _ = try db.checkpoint(.truncate) }
    }

    /// The database's size in bytes (pages × page size).
    public func bytes() async throws -> Int {
        try await pool.read { db in
            (try Int.fetchOne(db, sql: "PRAGMA page_count") ?? 0) * (try Int.fetchOne(db, sql: "PRAGMA page_size") ?? 0)
        }
    }
}
