import Foundation
import GRDB
import OrderClosing
import OrderClosingTestSupport
import SQLiteOrderStore

/// A real SQLite file in WAL mode in a fresh temporary folder, migrated, with merchant-side helpers.
public struct ScratchDatabase: StoreFixture {
    public let directory: URL
    public let path: String
    public let pool: DatabasePool
    public let sqliteStore: SQLiteOrderStore
    public var store: any OrderStore { sqliteStore }

    public init(due: DuePolicy = .standard) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("closeorderd-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        path = directory.appendingPathComponent("orders.sqlite").path
        pool = try SQLiteDatabase.openMigrated(path: path)
        sqliteStore = SQLiteOrderStore(pool: pool, due: due)
    }

    /// Inserts an order as the merchant's app would; returns its id.
    @discardableResult
    public func insert(
        _ outTradeNo: String, createdAt: Int64, timeout: Int64 = 0, mchID: String = "1900000109",
        appID: String = "wx2421b1c4370ec43b"
    ) throws -> Int64 {
        try pool.write { db in
            try db.execute(
                sql: """
                    INSERT INTO pending_orders (mch_id, appid, out_trade_no, created_at, timeout_seconds)
                    VALUES (?, ?, ?, ?, ?)
                    """, arguments: [mchID, appID, outTradeNo, createdAt, timeout])
            return db.lastInsertedRowID
        }
    }

    public func insert(
        _ outTradeNo: String, createdAt: Int64, timeout: Int64 = 0, mchID: String = StoreFixtureDefaults.mchID,
        subMchID: String?
    ) throws {
        try pool.write { db in
            try db.execute(
                sql: """
                    INSERT INTO pending_orders (mch_id, appid, out_trade_no, sub_mch_id, created_at, timeout_seconds)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """, arguments: [mchID, StoreFixtureDefaults.appID, outTradeNo, subMchID, createdAt, timeout])
        }
    }

    public func stored(_ outTradeNo: String) throws -> StoredOrder? {
        try row(outTradeNo).map { row in
            StoredOrder(
                status: OrderStatus(rawValue: row["status"]) ?? .failed, attempts: row["attempts"], inDoubt: row["in_doubt"],
                leaseOwner: row["lease_owner"], outcome: row["outcome"], lastError: row["last_error"],
                lastErrCode: row["last_err_code"], conflict: row["conflict"], transactionID: row["transaction_id"],
                nextAttemptMs: row["next_attempt_ms"])
        }
    }

    public func audit(_ outTradeNo: String) throws -> [StoredAttempt] {
        try attempts(outTradeNo).map { row in
            StoredAttempt(errCode: row["err_code"], returnCode: row["return_code"], verified: row["verified"])
        }
    }

    public func published(_ key: String) throws -> String? {
        try pool.read { db in try String.fetchOne(db, sql: "SELECT value FROM daemon_state WHERE key = ?", arguments: [key]) }
    }

    /// The merchant's "mark paid" statement from the README.
    public func markPaid(_ outTradeNo: String, mchID: String = "1900000109") throws {
        try pool.write { db in
            try db.execute(
                sql: """
                    UPDATE pending_orders SET status = 'paid'
                    WHERE mch_id = ? AND out_trade_no = ? AND status IN ('pending', 'closing')
                    """, arguments: [mchID, outTradeNo])
        }
    }

    public func row(_ outTradeNo: String) throws -> Row? {
        try pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM pending_orders WHERE out_trade_no = ?", arguments: [outTradeNo])
        }
    }

    public func attempts(_ outTradeNo: String) throws -> [Row] {
        try pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM close_attempts WHERE out_trade_no = ? ORDER BY id", arguments: [outTradeNo])
        }
    }

    public func remove() {
        try? FileManager.default.removeItem(at: directory)
    }
}
