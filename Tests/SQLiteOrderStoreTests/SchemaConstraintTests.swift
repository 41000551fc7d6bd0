import GRDB
import OrderClosingTestSupport
import StoreTestSupport
import Testing

@testable import SQLiteOrderStore

/// Rows that break the contract fail at INSERT: one case per constraint.
@Suite struct SchemaConstraintTests {
    static let valid = "('1900000109', 'wx2421b1c4370ec43b', 'OK-1', NULL, NULL, 1800000000, 0, 'pending')"

    static let rejected: [(String, String)] = [
        ("empty out_trade_no", "('1900000109', 'wx1', '', NULL, NULL, 1800000000, 0, 'pending')"),
        (
            "out_trade_no of 33 chars",
            "('1900000109', 'wx1', '\(String(repeating: "A", count: 33))', NULL, NULL, 1800000000, 0, 'pending')"
        ),
        ("out_trade_no with a dot", "('1900000109', 'wx1', 'A.1', NULL, NULL, 1800000000, 0, 'pending')"),
        ("out_trade_no with a space", "('1900000109', 'wx1', 'A 1', NULL, NULL, 1800000000, 0, 'pending')"),
        ("out_trade_no with CJK", "('1900000109', 'wx1', '订单1', NULL, NULL, 1800000000, 0, 'pending')"),
        ("NULL out_trade_no", "('1900000109', 'wx1', NULL, NULL, NULL, 1800000000, 0, 'pending')"),
        ("NULL mch_id", "(NULL, 'wx1', 'A1', NULL, NULL, 1800000000, 0, 'pending')"),
        ("padded mch_id", "(' 1900000109', 'wx1', 'A1', NULL, NULL, 1800000000, 0, 'pending')"),
        ("empty appid", "('1900000109', '', 'A1', NULL, NULL, 1800000000, 0, 'pending')"),
        (
            "appid of 33 chars",
            "('1900000109', '\(String(repeating: "w", count: 33))', 'A1', NULL, NULL, 1800000000, 0, 'pending')"
        ),
        (
            "sub_mch_id of 33 chars",
            "('1900000109', 'wx1', 'A1', '\(String(repeating: "1", count: 33))', NULL, 1800000000, 0, 'pending')"
        ),
        (
            "sub_appid of 33 chars",
            "('1900000109', 'wx1', 'A1', '1', '\(String(repeating: "w", count: 33))', 1800000000, 0, 'pending')"
        ),
        ("NULL created_at", "('1900000109', 'wx1', 'A1', NULL, NULL, NULL, 0, 'pending')"),
        ("zero created_at", "('1900000109', 'wx1', 'A1', NULL, NULL, 0, 0, 'pending')"),
        ("text created_at (STRICT)", "('1900000109', 'wx1', 'A1', NULL, NULL, 'yesterday', 0, 'pending')"),
        ("negative timeout", "('1900000109', 'wx1', 'A1', NULL, NULL, 1800000000, -1, 'pending')"),
        ("NULL timeout", "('1900000109', 'wx1', 'A1', NULL, NULL, 1800000000, NULL, 'pending')"),
        ("real timeout (STRICT)", "('1900000109', 'wx1', 'A1', NULL, NULL, 1800000000, 1.5, 'pending')"),
        ("unknown status", "('1900000109', 'wx1', 'A1', NULL, NULL, 1800000000, 0, 'cancelled')"),
        ("upper-case status", "('1900000109', 'wx1', 'A1', NULL, NULL, 1800000000, 0, 'PENDING')"),
    ]

    /// Refused since schema version 2 (accepted by version 1): each with the words of its message.
    static let refusedSinceVersion2: [(String, String, String)] = [
        (
            "created_at in milliseconds", "('1900000109', 'wx1', 'A1', NULL, NULL, 1800000000000, 0, 'pending')",
            "created_at must be unix seconds"
        ),
        (
            "created_at before 2014", "('1900000109', 'wx1', 'A1', NULL, NULL, 1388534399, 0, 'pending')",
            "created_at must be unix seconds"
        ),
        (
            "created_at at 2100-01-01", "('1900000109', 'wx1', 'A1', NULL, NULL, 4102444800, 0, 'pending')",
            "created_at must be unix seconds"
        ),
        (
            "out_trade_no with a NUL", "('1900000109', 'wx1', 'A' || char(0) || 'B', NULL, NULL, 1800000000, 0, 'pending')",
            "out_trade_no must not contain a NUL or other control character"
        ),
        (
            "out_trade_no of 33 bytes behind a NUL",
            "('1900000109', 'wx1', 'A' || char(0) || '\(String(repeating: "B", count: 31))', NULL, NULL, 1800000000, 0, 'pending')",
            "out_trade_no must not contain a NUL or other control character"
        ),
        (
            "mch_id with a NUL", "('1900000109' || char(0), 'wx1', 'A1', NULL, NULL, 1800000000, 0, 'pending')",
            "mch_id must not contain a NUL or other control character"
        ),
        (
            "mch_id with a tab", "('19000' || char(9) || '00109', 'wx1', 'A1', NULL, NULL, 1800000000, 0, 'pending')",
            "mch_id must not contain a NUL or other control character"
        ),
        (
            "appid with a NUL", "('1900000109', 'wx1' || char(0) || 'x', 'A1', NULL, NULL, 1800000000, 0, 'pending')",
            "appid must not contain a NUL or other control character"
        ),
        (
            "appid with a newline", "('1900000109', 'wx1' || char(10), 'A1', NULL, NULL, 1800000000, 0, 'pending')",
            "appid must not contain a NUL or other control character"
        ),
        (
            "sub_mch_id with a NUL", "('1900000109', 'wx1', 'A1', '1' || char(0) || '2', NULL, 1800000000, 0, 'pending')",
            "sub_mch_id must not contain a NUL or other control character"
        ),
        (
            "sub_mch_id with ESC", "('1900000109', 'wx1', 'A1', '1' || char(27) || '[2J', NULL, 1800000000, 0, 'pending')",
            "sub_mch_id must not contain a NUL or other control character"
        ),
        (
            "sub_appid with a NUL", "('1900000109', 'wx1', 'A1', '1', 'wx2' || char(0), 1800000000, 0, 'pending')",
            "sub_appid must not contain a NUL or other control character"
        ),
        (
            "sub_appid with DEL", "('1900000109', 'wx1', 'A1', '1', 'wx' || char(127) || '2', 1800000000, 0, 'pending')",
            "sub_appid must not contain a NUL or other control character"
        ),
        (
            "sub_appid with a C1 control", "('1900000109', 'wx1', 'A1', '1', 'wx' || char(133) || '2', 1800000000, 0, 'pending')",
            "sub_appid must not contain a NUL or other control character"
        ),
        (
            "status closing at INSERT", "('1900000109', 'wx1', 'A1', NULL, NULL, 1800000000, 0, 'closing')",
            "status must be pending or paid at INSERT"
        ),
        (
            "status closed at INSERT", "('1900000109', 'wx1', 'A1', NULL, NULL, 1800000000, 0, 'closed')",
            "status must be pending or paid at INSERT"
        ),
        (
            "status failed at INSERT", "('1900000109', 'wx1', 'A1', NULL, NULL, 1800000000, 0, 'failed')",
            "status must be pending or paid at INSERT"
        ),
    ]

    @Test(arguments: refusedSinceVersion2) func refusesWithAMessageNamingTheRule(_ row: (String, String, String)) throws {
        let database = try ScratchDatabase()
        defer { database.remove() }
        try insert(Self.valid, into: database.pool)
        #expect("\(row.0) was accepted") {
            try insert(row.1, into: database.pool)
        } throws: { error in
            (error as? DatabaseError)?.resultCode == .SQLITE_CONSTRAINT && "\(error)".contains(row.2)
        }
        #expect(try database.pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM pending_orders") } == 1)
    }

    /// The same rows pass schema version 1: each refusal above is new in version 2.
    @Test(arguments: refusedSinceVersion2) func versionOneAcceptedIt(_ row: (String, String, String)) throws {
        let database = try OlderSchemaDatabase(version: 1)
        defer { database.remove() }
        try insert(row.1, into: database.pool)
    }

    /// An app that binds text with its length stores "A\0B"; SQLite's length() and GLOB saw only "A".
    @Test func refusesAnOutTradeNoWithANULBoundAsText() throws {
        let statement = MerchantStatement(
            sql: """
                INSERT INTO pending_orders (mch_id, appid, out_trade_no, created_at, timeout_seconds)
                VALUES ('1900000109', 'wx1', ?, 1800000000, 0)
                """)
        let older = try OlderSchemaDatabase(version: 1)
        defer { older.remove() }
        try older.pool.write { db in try statement.execute(db, texts: ["A\0B"]) }
        let stored = try older.pool.read { db in
            try Row.fetchOne(
                db,
                sql:
                    "SELECT typeof(out_trade_no) AS type, length(out_trade_no) AS chars, length(CAST(out_trade_no AS BLOB)) AS bytes FROM pending_orders"
            )
        }
        #expect(
            stored?["type"] as String? == "text" && stored?["chars"] as Int? == 1 && stored?["bytes"] as Int? == 3,
            "version 1 stored it, and SQLite counts 1 character")

        let database = try ScratchDatabase()
        defer { database.remove() }
        #expect {
            try database.pool.write { db in try statement.execute(db, texts: ["A\0B"]) }
        } throws: { error in
            "\(error)".contains("out_trade_no must not contain a NUL or other control character")
        }
        try database.pool.write { db in try statement.execute(db, texts: ["AB"]) }
    }

    @Test func acceptsLegalRowsAtTheEdges() throws {
        let database = try ScratchDatabase()
        defer { database.remove() }
        try insert("('1900000109', 'wx1', 'FIRST-SECOND', NULL, NULL, 1388534400, 0, 'pending')", into: database.pool)
        try insert("('1900000109', 'wx1', 'LAST-SECOND', NULL, NULL, 4102444799, 0, 'pending')", into: database.pool)
        try insert("('1900000109', 'wx1', 'PAID-AT-ONCE', NULL, NULL, 1800000000, 0, 'paid')", into: database.pool)
        try insert("('1900000109', 'wx1', 'PROVIDER', '1900000111', 'wx2', 1800000000, 0, 'pending')", into: database.pool)
        try insert(
            "('1900000109', 'wx1', '\(String(repeating: "Z", count: 32))', NULL, NULL, 1800000000, 86400, 'pending')",
            into: database.pool)
        try database.pool.write { db in
            try db.execute(
                sql:
                    "INSERT INTO pending_orders (mch_id, appid, out_trade_no, created_at, timeout_seconds) VALUES ('1900000109', 'wx1', 'DEFAULTS', 1800000000, 0)"
            )
        }
        #expect(try database.pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM pending_orders") } == 6)
    }

    /// Updates the merchant might make are held to the same rules as its INSERTs.
    @Test func refusesTheSameValuesInAnUpdate() throws {
        let database = try ScratchDatabase()
        defer { database.remove() }
        let id = try database.insert("U1", createdAt: 1_800_000_000)
        let refused: [(String, String)] = [
            ("UPDATE pending_orders SET created_at = created_at * 1000 WHERE id = ?", "created_at must be unix seconds"),
            ("UPDATE pending_orders SET out_trade_no = 'U' || char(0) || '1' WHERE id = ?", "out_trade_no must not contain"),
            ("UPDATE pending_orders SET mch_id = mch_id || char(0) WHERE id = ?", "mch_id must not contain"),
            ("UPDATE pending_orders SET appid = appid || char(13) WHERE id = ?", "appid must not contain"),
            ("UPDATE pending_orders SET sub_mch_id = char(0) WHERE id = ?", "sub_mch_id must not contain"),
            ("UPDATE pending_orders SET sub_appid = 'wx' || char(31) WHERE id = ?", "sub_appid must not contain"),
            (
                "UPDATE pending_orders SET status = 'closing' WHERE id = ?",
                "status closing needs lease_token and lease_expires_ms"
            ),
            (
                "UPDATE pending_orders SET status = 'closing', lease_token = 't' WHERE id = ?",
                "status closing needs lease_token and lease_expires_ms"
            ),
            (
                "UPDATE pending_orders SET status = 'closing', lease_expires_ms = 1 WHERE id = ?",
                "status closing needs lease_token and lease_expires_ms"
            ),
        ]
        for (sql, message) in refused {
            #expect("\(sql) was accepted") {
                try database.pool.write { db in try db.execute(sql: sql, arguments: [id]) }
            } throws: { error in
                "\(error)".contains(message)
            }
        }
        let row = try #require(try database.row("U1"))
        #expect(
            row["status"] as String == "pending" && row["created_at"] as Int64 == 1_800_000_000
                && row["sub_mch_id"] as String? == nil)
        try database.pool.write { db in
            try db.execute(
                sql: "UPDATE pending_orders SET created_at = 1800000060, sub_mch_id = '1900000111' WHERE id = ?", arguments: [id])
        }
    }

    /// closeorderd's own writes, as the store makes them, pass every rule: claim, release, rescue,
    /// finish, the merchant's `paid` during a close, and the operator's requeue.
    @Test func theDaemonsWritesStillWork() throws {
        let database = try ScratchDatabase()
        defer { database.remove() }
        let id = try database.insert("D1", createdAt: 1_800_000_000)
        let claim = """
            UPDATE pending_orders
            SET status = 'closing', lease_owner = 'host:1', lease_token = ?, lease_expires_ms = 1800000360000,
                attempts = attempts + 1, first_attempt_ms = coalesce(first_attempt_ms, 1800000300000), last_attempt_ms = 1800000300000
            WHERE id IN (SELECT id FROM pending_orders WHERE status = 'pending' AND next_attempt_ms <= 1800000300000 LIMIT 16)
            RETURNING id
            """
        func status() throws -> String? { try database.row("D1")?["status"] }
        try database.pool.write { db in
            #expect(try Int64.fetchAll(db, sql: claim, arguments: ["t1"]) == [id])
            try db.execute(
                sql: """
                    UPDATE pending_orders SET status = 'pending', attempts = max(attempts - 1, 0),
                        lease_owner = NULL, lease_token = NULL, lease_expires_ms = NULL
                    WHERE id = ? AND lease_token = 't1' AND status = 'closing'
                    """, arguments: [id])
            #expect(db.changesCount == 1)
        }
        #expect(try status() == "pending")
        try database.pool.write { db in
            _ = try Int64.fetchAll(db, sql: claim, arguments: ["t2"])
            try db.execute(
                sql: """
                    UPDATE pending_orders SET status = 'pending', in_doubt = 1, retry_at_ms = 1800000400000,
                        last_error = 'lease expired', lease_owner = NULL, lease_token = NULL, lease_expires_ms = NULL
                    WHERE status = 'closing' AND lease_expires_ms < 1800000400000
                    """)
            #expect(db.changesCount == 1)
            try db.execute(sql: "UPDATE pending_orders SET retry_at_ms = NULL WHERE id = ?", arguments: [id])
            _ = try Int64.fetchAll(db, sql: claim, arguments: ["t3"])
            try db.execute(
                sql: """
                    UPDATE pending_orders SET status = 'closed', outcome = 'closed', finished_ms = 1800000301000,
                        lease_owner = NULL, lease_token = NULL, lease_expires_ms = NULL
                    WHERE id = ? AND lease_token = 't3' AND status = 'closing'
                    """, arguments: [id])
            #expect(db.changesCount == 1)
            try db.execute(
                sql: """
                    INSERT INTO close_attempts (order_id, mch_id, out_trade_no, attempt, operation, started_ms, finished_ms, outcome, verified)
                    VALUES (?, '1900000109', 'D1', 1, 'closeorder', 1800000300000, 1800000301000, 'closed', 1)
                    """, arguments: [id])
        }
        #expect(try status() == "closed")

        let paid = try database.insert("D2", createdAt: 1_800_000_000)
        try database.pool.write { db in
            _ = try Int64.fetchAll(db, sql: claim, arguments: ["t4"])
            try db.execute(
                sql:
                    "UPDATE pending_orders SET status = 'failed', finished_ms = 1, lease_owner = NULL, lease_token = NULL, lease_expires_ms = NULL WHERE id = ?",
                arguments: [paid])
            try db.execute(
                sql:
                    "UPDATE pending_orders SET status = 'pending', attempts = 0, retry_at_ms = NULL, finished_ms = NULL WHERE status = 'failed'"
            )
            _ = try Int64.fetchAll(db, sql: claim, arguments: ["t5"])
        }
        try database.markPaid("D2")
        #expect(try database.row("D2")?["status"] as String? == "paid")
    }

    /// `close_attempts.verified` is new in version 2: whether the answer's signature was checked.
    @Test func closeAttemptsRecordWhetherTheAnswerWasVerified() throws {
        let database = try ScratchDatabase()
        defer { database.remove() }
        let id = try database.insert("V1", createdAt: 1_800_000_000)
        func attempt(_ verified: String) throws {
            try database.pool.write { db in
                try db.execute(
                    sql: """
                        INSERT INTO close_attempts (order_id, mch_id, out_trade_no, attempt, operation, started_ms, finished_ms, outcome, verified)
                        VALUES (?, '1900000109', 'V1', 1, 'closeorder', 0, 1, 'closed', \(verified))
                        """, arguments: [id])
            }
        }
        try attempt("1")
        try attempt("0")
        try attempt("NULL")
        #expect(throws: DatabaseError.self) { try attempt("2") }
        #expect(throws: DatabaseError.self) { try attempt("'yes'") }
    }

    @Test(arguments: rejected) func rejectsAtInsert(_ row: (String, String)) throws {
        let database = try ScratchDatabase()
        defer { database.remove() }
        try insert(Self.valid, into: database.pool)
        #expect(throws: DatabaseError.self, "\(row.0) was accepted") { try insert(row.1, into: database.pool) }
        #expect(try database.pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM pending_orders") } == 1)
    }

    @Test func rejectsADuplicateOrderOfTheSameMerchant() throws {
        let database = try ScratchDatabase()
        defer { database.remove() }
        try insert(Self.valid, into: database.pool)
        #expect(throws: DatabaseError.self) { try insert(Self.valid, into: database.pool) }
        // The same out_trade_no under another merchant is a different order.
        try insert("('1900000110', 'wx2421b1c4370ec43b', 'OK-1', NULL, NULL, 1800000000, 0, 'pending')", into: database.pool)
    }

    @Test func acceptsEveryAllowedCharacter() throws {
        let database = try ScratchDatabase()
        defer { database.remove() }
        try insert("('1900000109', 'wx1', 'aZ09_-|*@', NULL, NULL, 1800000000, 0, 'pending')", into: database.pool)
    }

    func insert(_ values: String, into pool: DatabasePool) throws {
        try pool.write { db in
            try db.execute(
                sql: """
                    INSERT INTO pending_orders (mch_id, appid, out_trade_no, sub_mch_id, sub_appid, created_at, timeout_seconds, status)
                    VALUES \(values)
                    """)
        }
    }
}
