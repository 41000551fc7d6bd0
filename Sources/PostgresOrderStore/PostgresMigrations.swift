import Logging
import PostgresNIO

/// One numbered SQL file from `migrations/postgresql/`.
public struct PostgresMigration: Sendable, Hashable {
    public let version: Int
    public let name: String
    public let sql: String
}

/// Applies the embedded copies of `migrations/postgresql/*.sql` in order, each in its own
/// transaction, with a ledger in `schema_migrations` (as the SQLite `Migrations` do).
///
/// Several daemons may start together against one database; each takes the session advisory lock
/// `lockKey` first, so one migrates and the others wait, then find nothing left to apply. The
/// lock is per database and is released when the session ends, so a daemon killed mid-migration
/// leaves no lock behind (and its transaction is rolled back).
public enum PostgresMigrations {
    /// "closeord" in ASCII: the `pg_advisory_lock` key every closeorderd takes to migrate.
    public static let lockKey: Int64 = 0x636c_6f73_656f_7264

    public static var latestVersion: Int { embedded.map(\.version).max() ?? 0 }

    /// Applies what is missing, up to `target`, and returns the versions applied now.
    @discardableResult
    public static func migrate(_ connection: PostgresConnection, logger: Logger, upTo target: Int = latestVersion) async throws
        -> [Int]
    {
        do {
            try await connection.send("SELECT pg_advisory_lock(\(lockKey))", logger: logger)
        } catch {
            throw PostgresStoreError("cannot take the migration lock: \(PostgresStoreError.reason(error))")
        }
        do {
            let applied = try await migrateLocked(connection, logger: logger, upTo: target)
            try await connection.send("SELECT pg_advisory_unlock(\(lockKey))", logger: logger)
            return applied
        } catch {
            _ = try? await connection.send("SELECT pg_advisory_unlock(\(lockKey))", logger: logger)
            throw error
        }
    }

    static func migrateLocked(_ connection: PostgresConnection, logger: Logger, upTo target: Int) async throws -> [Int] {
        try await connection.send(
            """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version    INTEGER PRIMARY KEY,
                name       TEXT    NOT NULL,
                applied_ms BIGINT  NOT NULL
            )
            """, logger: logger)
        let applied = Set(try await versions(connection, logger: logger))
        if let newest = applied.max(), newest > latestVersion {
            throw PostgresStoreError.newerSchema(found: newest, known: latestVersion)
        }
        var appliedNow: [Int] = []
        for migration in embedded.sorted(by: { $0.version < $1.version })
        where migration.version <= target && !applied.contains(migration.version) {
            do {
                try await connection.withTransaction(logger: logger) { connection in
                    for statement in statements(in: migration.sql) {
                        try await connection.send(PostgresQuery(unsafeSQL: statement), logger: logger)
                    }
                    try await connection.send(
                        """
                        INSERT INTO schema_migrations (version, name, applied_ms)
                        VALUES (\(migration.version), \(migration.name), (extract(epoch from clock_timestamp()) * 1000)::bigint)
                        """, logger: logger)
                }
            } catch {
                throw PostgresStoreError("migration \(migration.name) failed: \(PostgresStoreError.reason(error))")
            }
            appliedNow.append(migration.version)
        }
        return appliedNow
    }

    /// The schema version recorded in the ledger (0 for an empty database).
    public static func currentVersion(_ connection: PostgresConnection, logger: Logger) async throws -> Int {
        let exists =
            try await connection.send("SELECT to_regclass('schema_migrations') IS NOT NULL", logger: logger).first?.decode(
                Bool.self) ?? false
        guard exists else { return 0 }
        return try await versions(connection, logger: logger).max() ?? 0
    }

    /// Throws unless the database is at `latestVersion`: `run` and the operator commands on a
    /// database that `migrate` has not brought up to date.
    public static func requireCurrent(_ connection: PostgresConnection, logger: Logger) async throws {
        let version = try await currentVersion(connection, logger: logger)
        if version > latestVersion { throw PostgresStoreError.newerSchema(found: version, known: latestVersion) }
        if version < latestVersion { throw PostgresStoreError.notMigrated(found: version, known: latestVersion) }
    }

    static func versions(_ connection: PostgresConnection, logger: Logger) async throws -> [Int] {
        try await connection.send("SELECT version FROM schema_migrations", logger: logger).map { try $0.decode(Int.self) }
    }

    /// The statements of a migration file. PostgresNIO sends one statement per query (the extended
    /// protocol), so a file is split at each `;` that ends a line outside a `$tag$ … $tag$` body.
    /// Chunks holding only comments are dropped.
    static func statements(in sql: String) -> [String] {
        var statements: [String] = []
        var current: [Substring] = []
        var openTag: Substring?
        for line in sql.split(separator: "\n", omittingEmptySubsequences: false) {
            current.append(line)
            for tag in dollarTags(in: line) {
                if openTag == nil { openTag = tag } else if openTag == tag { openTag = nil }
            }
            let code = line.trimmingTrailingComment()
            if openTag == nil, code.hasSuffix(";") {
                statements.append(current.joined(separator: "\n"))
                current = []
            }
        }
        statements.append(current.joined(separator: "\n"))
        return statements.filter { statement in
            statement.split(separator: "\n").contains { !$0.trimmingTrailingComment().isEmpty }
        }
    }

    /// `$tag$` and `$$` markers in a line, in order.
    static func dollarTags(in line: Substring) -> [Substring] {
        var tags: [Substring] = []
        var index = line.startIndex
        while let start = line[index...].firstIndex(of: "$") {
            let rest = line[line.index(after: start)...]
            guard let end = rest.firstIndex(of: "$") else { break }
            let name = line[line.index(after: start)..<end]
            if name.allSatisfy({ $0.isLetter || $0 == "_" }) {
                tags.append(line[start...end])
                index = line.index(after: end)
            } else {
                index = line.index(after: start)
            }
        }
        return tags
    }
}

extension Substring {
    /// The line without a `--` comment and surrounding blanks (the migrations put no `--` in strings).
    func trimmingTrailingComment() -> Substring {
        var code = firstRange(of: "--").map { self[..<$0.lowerBound] } ?? self
        while let first = code.first, first.isWhitespace { code.removeFirst() }
        while let last = code.last, last.isWhitespace { code.removeLast() }
        return code
    }
}
