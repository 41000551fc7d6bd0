import OrderClosingTestSupport
import GRDB
import Testing

/// Rows that break the contract fail at INSERT: one case per constraint.
@Suite struct SchemaConstraintTests {
    static let valid = "('1900000109', 'wx2421b1c4370ec43b', 'OK-1', NULL, NULL, 1800000000, 0, 'pending')"

    static let rejected: [(String, String)] = [
        ("empty out_trade_no", "('1900000109', 'wx1', '', NULL, NULL, 1800000000, 0, 'pending')"),
        ("out_trade_no of 33 chars", "('1900000109', 'wx1', '\(String(repeating: "A", count: 33))', NULL, NULL, 1800000000, 0, 'pending')"),
        ("out_trade_no with a dot", "('1900000109', 'wx1', 'A.1', NULL, NULL, 1800000000, 0, 'pending')"),
        ("out_trade_no with a space", "('1900000109', 'wx1', 'A 1', NULL, NULL, 1800000000, 0, 'pending')"),
        ("out_trade_no with CJK", "('1900000109', 'wx1', '订单1', NULL, NULL, 1800000000, 0, 'pending')"),
        ("NULL out_trade_no", "('1900000109', 'wx1', NULL, NULL, NULL, 1800000000, 0, 'pending')"),
        ("NULL mch_id", "(NULL, 'wx1', 'A1', NULL, NULL, 1800000000, 0, 'pending')"),
        ("padded mch_id", "(' 1900000109', 'wx1', 'A1', NULL, NULL, 1800000000, 0, 'pending')"),
        ("empty appid", "('1900000109', '', 'A1', NULL, NULL, 1800000000, 0, 'pending')"),
        ("appid of 33 chars", "('1900000109', '\(String(repeating: "w", count: 33))', 'A1', NULL, NULL, 1800000000, 0, 'pending')"),
        ("sub_mch_id of 33 chars", "('1900000109', 'wx1', 'A1', '\(String(repeating: "1", count: 33))', NULL, 1800000000, 0, 'pending')"),
        ("sub_appid of 33 chars", "('1900000109', 'wx1', 'A1', '1', '\(String(repeating: "w", count: 33))', 1800000000, 0, 'pending')"),
        ("NULL created_at", "('1900000109', 'wx1', 'A1', NULL, NULL, NULL, 0, 'pending')"),
        ("zero created_at", "('1900000109', 'wx1', 'A1', NULL, NULL, 0, 0, 'pending')"),
        ("text created_at (STRICT)", "('1900000109', 'wx1', 'A1', NULL, NULL, 'yesterday', 0, 'pending')"),
        ("negative timeout", "('1900000109', 'wx1', 'A1', NULL, NULL, 1800000000, -1, 'pending')"),
        ("NULL timeout", "('1900000109', 'wx1', 'A1', NULL, NULL, 1800000000, NULL, 'pending')"),
        ("real timeout (STRICT)", "('1900000109', 'wx1', 'A1', NULL, NULL, 1800000000, 1.5, 'pending')"),
        ("unknown status", "('1900000109', 'wx1', 'A1', NULL, NULL, 1800000000, 0, 'cancelled')"),
        ("upper-case status", "('1900000109', 'wx1', 'A1', NULL, NULL, 1800000000, 0, 'PENDING')"),
    ]

    @Test(arguments: rejected) func rejectsAtInsert(_ row: (String, String)) throws {
        let database = try ScratchDatabase()
        defer { database.remove() }
        try insert(Self.valid, into: database)
        #expect(throws: DatabaseError.self, "\(row.0) was accepted") { try insert(row.1, into: database) }
        #expect(try database.pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM pending_orders") } == 1)
    }

    @Test func rejectsADuplicateOrderOfTheSameMerchant() throws {
        let database = try ScratchDatabase()
        defer { database.remove() }
        try insert(Self.valid, into: database)
        #expect(throws: DatabaseError.self) { try insert(Self.valid, into: database) }
        // The same out_trade_no under another merchant is a different order.
        try insert("('1900000110', 'wx2421b1c4370ec43b', 'OK-1', NULL, NULL, 1800000000, 0, 'pending')", into: database)
    }

    @Test func acceptsEveryAllowedCharacter() throws {
        let database = try ScratchDatabase()
        defer { database.remove() }
        try insert("('1900000109', 'wx1', 'aZ09_-|*@', NULL, NULL, 1800000000, 0, 'pending')", into: database)
    }

    func insert(_ values: String, into database: ScratchDatabase) throws {
        try database.pool.write { db in
            try db.execute(sql: """
                INSERT INTO pending_orders (mch_id, appid, out_trade_no, sub_mch_id, sub_appid, created_at, timeout_seconds, status)
                VALUES \(values)
                """)
        }
    }
}
