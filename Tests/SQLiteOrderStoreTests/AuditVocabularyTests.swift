import Foundation
import GRDB
import Logging
import OrderClosing
import OrderClosingTestSupport
import StoreTestSupport
import Testing

@testable import PostgresOrderStore
@testable import SQLiteOrderStore

/// Issue 21: `close_attempts.outcome` is one closed vocabulary in both stores (schema 6), and rows
/// written before it take the new words with their old words in `error`.
enum AuditVocabulary {
    static let words = [
        "closed", "already_closed", "not_exist", "paid", "not_paid", "paying", "retry",
        "config_error", "order_rejected", "unknown_code",
    ]
    /// What older closeorderds wrote, and what schema 6 makes of it: (outcome, error) → (outcome, error).
    static let upgrades: [(old: (String, String?), new: (String, String?))] = [
        (("unknown_code", "unknown err_code CLOSE_204"), ("closed", nil)),
        (("unknown_code", "unknown err_code TRADE_ERROR"), ("unknown_code", "unknown err_code TRADE_ERROR")),
        (("closed", nil), ("closed", nil)),
        (("retry", "retry (SYSTEMERROR)"), ("retry", "retry (SYSTEMERROR)")),
        (("trade_state:SUCCESS", nil), ("paid", "trade_state SUCCESS")),
        (("trade_state:REFUND", nil), ("paid", "trade_state REFUND")),
        (("trade_state:CLOSED", nil), ("closed", "trade_state CLOSED")),
        (("trade_state:REVOKED", nil), ("closed", "trade_state REVOKED")),
        (("trade_state:NOTPAY", nil), ("not_paid", "trade_state NOTPAY")),
        (("trade_state:PAYERROR", nil), ("not_paid", "trade_state PAYERROR")),
        (("trade_state:USERPAYING", nil), ("paying", "trade_state USERPAYING")),
        (("trade_state:ACCEPT", nil), ("paying", "trade_state ACCEPT")),
        (("not_exist", nil), ("not_exist", nil)),
        (("retry (FREQUENCY_LIMITED)", nil), ("retry", "retry (FREQUENCY_LIMITED)")),
        (("configuration error (SIGN_ERROR: 签名错误)", nil), ("config_error", "configuration error (SIGN_ERROR: 签名错误)")),
        (("order rejected (PARAM_ERROR: x)", nil), ("order_rejected", "order rejected (PARAM_ERROR: x)")),
        (("unknown err_code ORDER_CLOSED", nil), ("unknown_code", "unknown err_code ORDER_CLOSED")),
    ]
    static let refused = [
        "trade_state:SUCCESS", "retry (FREQUENCY_LIMITED)", "CLOSED", "closed ", "", "unknown err_code CLOSE_204",
    ]
    static let oldReason = "retries exhausted; last error: err_code CLOSE_204; query: trade_state NOTPAY"
    static let newReason = "retries exhausted; last error: HTTP 204 to the close; query: trade_state NOTPAY"
}

@Suite struct SQLiteAuditVocabularyTests {
    static func attempt(_ db: Database, order: Int64, outcome: String, error: String? = nil) throws {
        try db.execute(
            sql: """
                INSERT INTO close_attempts (order_id, mch_id, out_trade_no, attempt, operation, started_ms, finished_ms, outcome, error)
                SELECT id, mch_id, out_trade_no, 1, 'orderquery', 1800000300000, 1800000301000, ?, ? FROM pending_orders WHERE id = ?
                """, arguments: [outcome, error, order])
    }

    @Test func onlyTheVocabularyIsAcceptedWithAMessageNamingTheRule() throws {
        let database = try ScratchDatabase()
        defer { database.remove() }
        let id = try database.insert("AUDIT-1", createdAt: 1_800_000_000)
        for word in AuditVocabulary.words + AuditOutcome.allCases.map(\.rawValue) {
            try database.pool.write { db in try Self.attempt(db, order: id, outcome: word) }
        }
        for word in AuditVocabulary.refused {
            #expect { try database.pool.write { db in try Self.attempt(db, order: id, outcome: word) } } throws: {
                "\($0)".contains("close_attempts.outcome must be one of closed, already_closed")
            }
        }
        #expect {
            try database.pool.write { db in try db.execute(sql: "UPDATE close_attempts SET outcome = 'trade_state:CLOSED'") }
        } throws: { "\($0)".contains("close_attempts.outcome must be one of") }
        #expect(
            try database.pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM close_attempts") } == AuditVocabulary
                .words.count * 2)
    }

    /// A schema-4 database as older closeorderds left it (v3 closes as `unknown_code` +
    /// `CLOSE_204`, query rows with their text in outcome) upgrades to the vocabulary.
    @Test func olderRowsTakeTheNewWordsAtTheUpgrade() throws {
        let database = try OlderSchemaDatabase(version: 4)
        defer { database.remove() }
        let ids = try database.pool.write { db in
            try db.execute(
                sql: """
                    INSERT INTO pending_orders (mch_id, appid, out_trade_no, created_at, timeout_seconds)
                    VALUES ('1900000300', 'wx1', 'OLD-1', 1800000000, 0), ('1900000300', 'wx1', 'OLD-2', 1800000000, 0)
                    """)
            try db.execute(
                sql: "UPDATE pending_orders SET status = 'failed', finished_ms = 1, last_error = ? WHERE out_trade_no = 'OLD-2'",
                arguments: [AuditVocabulary.oldReason])
            var ids: [Int64] = []
            for upgrade in AuditVocabulary.upgrades {
                try Self.attempt(db, order: 1, outcome: upgrade.old.0, error: upgrade.old.1)
                ids.append(db.lastInsertedRowID)
            }
            return ids
        }
        #expect(try Migrations.migrate(database.pool).contains(6))
        let rows = try database.pool.read { db in
            try Row.fetchAll(db, sql: "SELECT id, outcome, error FROM close_attempts ORDER BY id")
        }
        #expect(rows.map { $0["id"] as Int64 } == ids, "every row is kept")
        for (row, upgrade) in zip(rows, AuditVocabulary.upgrades) {
            #expect(
                row["outcome"] as String == upgrade.new.0 && row["error"] as String? == upgrade.new.1,
                "\(upgrade.old) became \(row)")
        }
        let reason = try database.pool.read { db in
            try String.fetchOne(db, sql: "SELECT last_error FROM pending_orders WHERE out_trade_no = 'OLD-2'")
        }
        #expect(reason == AuditVocabulary.newReason)
        #expect { try database.pool.write { db in try Self.attempt(db, order: 1, outcome: "trade_state:SUCCESS") } } throws: {
            "\($0)".contains("close_attempts.outcome must be one of")
        }
    }
}

@Suite(.enabled(if: PostgresTestCluster.shouldRun, Comment(rawValue: PostgresTestCluster.missingMessage)))
struct PostgresAuditVocabularyTests {
    static func attempt(_ outcome: String, error: String? = nil) -> String {
        let quoted = { (text: String) in "'" + text.replacingOccurrences(of: "'", with: "''") + "'" }
        return """
            INSERT INTO close_attempts (order_id, mch_id, out_trade_no, attempt, operation, started_ms, finished_ms, outcome, error)
            SELECT id, mch_id, out_trade_no, 1, 'orderquery', 1800000300000 + (SELECT count(*) FROM close_attempts), 1800000301000,
                   \(quoted(outcome)), \(error.map(quoted) ?? "NULL") FROM pending_orders WHERE out_trade_no = 'AUDIT-1';
            """
    }

    @Test func onlyTheVocabularyIsAcceptedWithAnErrorNamingTheRule() async throws {
        let fixture = try await PostgresScratchDatabase()
        defer { fixture.remove() }
        try await fixture.insert("AUDIT-1", createdAt: 1_800_000_000, timeout: 0, mchID: "1900000109", subMchID: nil)
        for word in AuditVocabulary.words + AuditOutcome.allCases.map(\.rawValue) {
            try fixture.cluster.psql(Self.attempt(word), database: fixture.name)
        }
        for word in AuditVocabulary.refused {
            let refusal = Result { try fixture.cluster.psql(Self.attempt(word), database: fixture.name) }
            #expect("\(refusal)".contains("close_attempts_outcome_is_one_vocabulary"), "\(word): \(refusal)")
        }
    }

    @Test func olderRowsTakeTheNewWordsAtTheUpgrade() async throws {
        let cluster = try await PostgresTestCluster.offPool { try PostgresTestCluster.shared() }
        let name = try await PostgresTestCluster.offPool { try cluster.createDatabase() }
        defer { cluster.dropDatabase(name) }
        let url = PostgresURL(user: cluster.user, host: "127.0.0.1", port: cluster.port, database: name, sslMode: .disable)
        let database = try PostgresQueueDatabase(url: url, password: nil, logger: .init(label: "upgrade"))
        let pool = Task { _ = try? await database.run() }
        defer { pool.cancel() }
        _ = try await database.migrate(upTo: 5)
        var script = """
            INSERT INTO pending_orders (mch_id, appid, out_trade_no, created_at, timeout_seconds)
            VALUES ('1900000300', 'wx1', 'AUDIT-1', 1800000000, 0), ('1900000300', 'wx1', 'OLD-2', 1800000000, 0);
            UPDATE pending_orders SET last_error = '\(AuditVocabulary.oldReason)' WHERE out_trade_no = 'OLD-2';

            """
        for upgrade in AuditVocabulary.upgrades { script += Self.attempt(upgrade.old.0, error: upgrade.old.1) + "\n" }
        try cluster.psql(script, database: name)
        #expect(try await database.migrate().contains(6))
        let rows = try cluster.psql(
            "SELECT outcome || '|' || coalesce(error, '-') FROM close_attempts ORDER BY id", database: name
        )
        .split(separator: "\n").map(String.init)
        #expect(rows == AuditVocabulary.upgrades.map { "\($0.new.0)|\($0.new.1 ?? "-")" })
        let reason = try cluster.psql("SELECT last_error FROM pending_orders WHERE out_trade_no = 'OLD-2'", database: name)
        #expect(reason.trimmingCharacters(in: .whitespacesAndNewlines) == AuditVocabulary.newReason)
    }
}
