import GRDB

/// Opens the merchant's database: one WAL pool per process, a busy timeout so short lock waits
/// are absorbed, and a statement journal kept in memory (multi-row claims spill to disk otherwise).
public enum SQLiteDatabase {
    public static func open(path: String, busyTimeoutSeconds: Double = 5, readonly: Bool = false) throws -> DatabasePool {
        var configuration = Configuration()
        configuration.busyMode = .timeout(busyTimeoutSeconds)
        configuration.readonly = readonly
        configuration.label = "closeorderd"
        // GRDB's default (.userInitiated) asks for a raised thread priority, which a hardened
        // unprivileged service is refused; libdispatch then logs a line per worker thread.
        configuration.qos = .default
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA temp_store = MEMORY")
            if !db.configuration.readonly {
                try db.execute(sql: "PRAGMA synchronous = NORMAL")
                // Checkpoint the WAL from here at 256 pages, before it reaches the 1,000 pages at
                // which the merchant's own connection would checkpoint inside one of its INSERTs
                // (tens of ms added to that INSERT; BENCHMARKS.md, P5).
                try db.execute(sql: "PRAGMA wal_autocheckpoint = 256")
            }
        }
        do {
            return try DatabasePool(path: path, configuration: configuration)
        } catch {
            throw StoreError.cannotOpen(path, "\(error)")
        }
    }

    /// Opens and migrates, or refuses a database from a newer closeorderd.
    public static func openMigrated(path: String, busyTimeoutSeconds: Double = 5) throws -> DatabasePool {
        let pool = try open(path: path, busyTimeoutSeconds: busyTimeoutSeconds)
        try Migrations.migrate(pool)
        return pool
    }

    /// Opens an existing database without changing its schema; refuses one that is not migrated.
    public static func openExisting(path: String, readonly: Bool = true) throws -> DatabasePool {
        let pool = try open(path: path, readonly: readonly)
        let version = try Migrations.currentVersion(pool)
        if version > Migrations.latestVersion { throw StoreError.newerSchema(found: version, known: Migrations.latestVersion) }
        if version < Migrations.latestVersion { throw StoreError.notMigrated(found: version, known: Migrations.latestVersion) }
        return pool
    }
}
