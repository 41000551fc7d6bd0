import PostgresNIO

/// A statement built piece by piece, as the SQLite store builds its `?` arguments: `bind` appends
/// a value and returns its `$n`, so optional filters (merchants, circuits) and the clock's
/// expression can be spliced in without counting placeholders by hand.
struct PostgresStatement {
    private(set) var binds = PostgresBindings()

    /// `$n` for `value`; a nil is a typed NULL only through the cast the SQL gives it.
    mutating func bind(_ value: some PostgresNonThrowingEncodable) -> String {
        binds.append(value)
        return "$\(binds.count)"
    }

    mutating func bind(_ value: (some PostgresNonThrowingEncodable)?) -> String {
        binds.append(value)
        return "$\(binds.count)"
    }

    /// The query. Bind every value before this call: a `bind` inside its argument would come after
    /// the bindings were read.
    func query(_ sql: String) -> PostgresQuery {
        PostgresQuery(unsafeSQL: sql, binds: binds)
    }
}

extension PostgresRandomAccessRow {
    /// The column `name` as `T`, or an error naming the column.
    func value<T: PostgresDecodable>(_ name: String, as type: T.Type = T.self) throws -> T {
        do {
            return try self[name].decode(T.self, context: .default)
        } catch {
            throw PostgresStoreError("column \(name) could not be read as \(T.self): \(PostgresStoreError.reason(error))")
        }
    }
}
