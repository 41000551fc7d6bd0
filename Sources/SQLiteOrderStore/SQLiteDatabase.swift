import Dispatch
import GRDB

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Opens the merchant's database: one WAL pool per process, a busy timeout so short lock waits
/// are absorbed (waited for by `LockWait`, which tries often enough to find the app's gaps), and a
/// statement journal kept in memory (multi-row claims spill to disk otherwise).
public enum SQLiteDatabase {
    /// The mode of a database file this process creates. The merchant's app writes the same
    /// database from its own user in the daemon's group, so the group needs write access, and
    /// SQLite gives the `-wal` and `-shm` files the main file's mode (exactly, whatever the umask).
    public static let fileMode: mode_t = 0o660

    public static func open(path: String, busyTimeoutSeconds: Double = 5, readonly: Bool = false) throws -> DatabasePool {
        var configuration = Configuration()
        configuration.busyMode = LockWait(timeoutSeconds: busyTimeoutSeconds).busyMode
        configuration.readonly = readonly
        configuration.label = "closeorderd"
        // GRDB's default (.userInitiated) asks for a raised thread priority, which a hardened
        // unprivileged service is refused; libdispatch then logs a line per worker thread.
        configuration.qos = .default
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA temp_store = MEMORY")
            if !db.configuration.readonly {
                // A new, empty file takes incremental auto-vacuum here, before the pool switches it
                // to WAL (after which only a VACUUM could); on an existing file this does nothing.
                try db.execute(sql: "PRAGMA auto_vacuum = INCREMENTAL")
                try db.execute(sql: "PRAGMA synchronous = NORMAL")
                // Checkpoint the WAL from here at 256 pages, before it reaches the 1,000 pages at
                // which the merchant's own connection would checkpoint inside one of its INSERTs
                // (tens of ms added to that INSERT; BENCHMARKS.md, P5).
                try db.execute(sql: "PRAGMA wal_autocheckpoint = 256")
            }
        }
        if !readonly { createIfMissing(path: path) }
        do {
            return try DatabasePool(path: path, configuration: configuration)
        } catch {
            throw StoreError.cannotOpen(path, "\(error)")
        }
    }

    /// Creates an empty database file (a valid empty SQLite database) with `fileMode`. Left to
    /// SQLite, the file would get 0644 minus the umask: 0640 under the unit's `UMask=0007`, and
    /// the app's INSERTs would fail with "attempt to write a readonly database". An existing file
    /// keeps its mode; a failure here is left for SQLite to report when it opens the path.
    static func createIfMissing(path: String) {
        guard !path.isEmpty, !path.hasPrefix(":"), !path.hasPrefix("file:") else { return }
        #if canImport(Glibc)
            let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, fileMode)
        #else
            let fd = Darwin.open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, fileMode)
        #endif
        guard fd >= 0 else { return }
        // open() applied the umask; fchmod() does not.
        _ = fchmod(fd, fileMode)
        _ = close(fd)
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
