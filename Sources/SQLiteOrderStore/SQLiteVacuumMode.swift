import GRDB

/// SQLite's `PRAGMA auto_vacuum`. Only `incremental` lets retention give freed pages back to the
/// filesystem in small steps; with `none` they stay in the file and are reused by later rows, so
/// the file stops growing but does not shrink. The mode can be chosen only before the first table
/// is created, or by a full `VACUUM` (which rewrites the file under the write lock).
public enum SQLiteVacuumMode: Int, Sendable {
    case none = 0, full = 1, incremental = 2
}

extension SQLiteDatabase {
    public static func autoVacuumMode(_ db: Database) throws -> SQLiteVacuumMode {
        SQLiteVacuumMode(rawValue: try Int.fetchOne(db, sql: "PRAGMA auto_vacuum") ?? 0) ?? .none
    }

    /// Switches the database to incremental vacuum. On an empty database (no table yet) it is
    /// instant; on an existing one it is a full `VACUUM`: the write lock for as long as it takes
    /// to rewrite the file (5 s for 92 MB on a loaded 2-core machine) and as much free disk again as the
    /// file's size. Returns false when it was already in that mode.
    /// Run it outside a transaction (`writeWithoutTransaction`).
    @discardableResult
    public static func useIncrementalVacuum(_ db: Database) throws -> Bool {
        guard try autoVacuumMode(db) != .incremental else { return false }
        try db.execute(sql: "PRAGMA auto_vacuum = INCREMENTAL")
        try db.execute(sql: "VACUUM")
        return true
    }

    /// Whether the database has no table yet: a new file, whose vacuum mode costs nothing to set.
    static func isEmpty(_ db: Database) throws -> Bool {
        try Int.fetchOne(db, sql: "SELECT count(*) FROM sqlite_master") == 0
    }
}
