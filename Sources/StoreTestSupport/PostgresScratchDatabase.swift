import Foundation
import Logging
import OrderClosing
import OrderClosingTestSupport
import PostgresOrderStore

/// A fresh database on the test PostgreSQL cluster, migrated by closeorderd's own runner, with the
/// merchant's side done through psql (another client, as the app would be). The store runs on
/// the caller's clock (`PostgresStoreClock.caller`) unless told otherwise, so the conformance
/// suite drives it with the same injected times as the SQLite store.
public final class PostgresScratchDatabase: StoreFixture, @unchecked Sendable {
    public let cluster: PostgresTestCluster
    public let name: String
    public let database: PostgresQueueDatabase
    public let postgresStore: PostgresOrderStore
    public var store: any OrderStore { postgresStore }
    private let pool: Task<Void, Never>

    public init(cluster: PostgresTestCluster? = nil, due: DuePolicy = .standard, clock: PostgresStoreClock = .caller) async throws
    {
        // initdb and the server's start take seconds: waited for off the cooperative pool.
        let cluster = try await PostgresTestCluster.offPool { try cluster ?? PostgresTestCluster.shared() }
        let name = try await PostgresTestCluster.offPool { try cluster.createDatabase() }
        let url = PostgresURL(user: cluster.user, host: "127.0.0.1", port: cluster.port, database: name, sslMode: .disable)
        let database = try PostgresQueueDatabase(url: url, password: nil, logger: Logger(label: "closeorderd.test.postgres"))
        self.cluster = cluster
        self.name = name
        self.database = database
        pool = Task { _ = try? await database.run() }
        postgresStore = database.store(due: due, clock: clock)
        do {
            try await database.migrate()
        } catch {
            remove()
            throw error
        }
    }

    /// The URL a daemon would be given for this database.
    public var url: String { "postgresql://\(cluster.user)@127.0.0.1:\(cluster.port)/\(name)?sslmode=disable" }

    public func insert(_ outTradeNo: String, createdAt: Int64, timeout: Int64, mchID: String, subMchID: String?) async throws {
        try await psql(
            """
            INSERT INTO pending_orders (mch_id, appid, out_trade_no, sub_mch_id, created_at, timeout_seconds)
            VALUES (:'mch', :'app', :'otn', nullif(:'sub', ''), :'created'::bigint, :'timeout'::bigint)
            """,
            variables: [
                "mch": mchID, "app": StoreFixtureDefaults.appID, "otn": outTradeNo, "sub": subMchID ?? "",
                "created": String(createdAt), "timeout": String(timeout),
            ])
    }

    /// The merchant's "mark paid" statement from the README.
    public func markPaid(_ outTradeNo: String, mchID: String) async throws {
        try await psql(
            """
            UPDATE pending_orders SET status = 'paid'
            WHERE mch_id = :'mch' AND out_trade_no = :'otn' AND status IN ('pending', 'closing')
            """, variables: ["mch": mchID, "otn": outTradeNo])
    }

    public func stored(_ outTradeNo: String) async throws -> StoredOrder? {
        guard let row = try await row(outTradeNo) else { return nil }
        return StoredOrder(
            status: OrderStatus(rawValue: row["status"] as? String ?? "") ?? .failed,
            attempts: Int(Self.integer(row["attempts"]) ?? -1),
            inDoubt: Self.integer(row["in_doubt"]) == 1, leaseOwner: row["lease_owner"] as? String,
            outcome: row["outcome"] as? String, lastError: row["last_error"] as? String,
            lastErrCode: row["last_err_code"] as? String, conflict: row["conflict"] as? String,
            transactionID: row["transaction_id"] as? String,
            nextAttemptMs: Self.integer(row["next_attempt_ms"]) ?? -1)
    }

    public func audit(_ outTradeNo: String) async throws -> [StoredAttempt] {
        try await attempts(outTradeNo).map { row in
            StoredAttempt(
                errCode: row["err_code"] as? String, returnCode: row["return_code"] as? String,
                verified: Self.integer(row["verified"]).map { $0 == 1 })
        }
    }

    public func published(_ key: String) async throws -> String? {
        let output = try await psql(
            "SELECT json_build_object('value', value) FROM daemon_state WHERE key = :'key'",
            variables: ["key": key])
        return try Self.objects("[\(output.trimmingCharacters(in: .whitespacesAndNewlines))]").first?["value"] as? String
    }

    /// The row as JSON columns, or nil.
    public func row(_ outTradeNo: String) async throws -> [String: Any]? {
        let output = try await psql(
            "SELECT row_to_json(p) FROM pending_orders p WHERE out_trade_no = :'otn'",
            variables: ["otn": outTradeNo])
        return try Self.objects("[\(output.trimmingCharacters(in: .whitespacesAndNewlines))]").first
    }

    public func attempts(_ outTradeNo: String) async throws -> [[String: Any]] {
        let output = try await psql(
            """
            SELECT coalesce(json_agg(row_to_json(a) ORDER BY a.id), '[]') FROM close_attempts a WHERE out_trade_no = :'otn'
            """, variables: ["otn": outTradeNo])
        return try Self.objects(output)
    }

    /// A JSON number as Foundation on Linux or Darwin hands it over.
    static func integer(_ value: Any?) -> Int64? {
        switch value {
        case let number as Int: Int64(number)
        case let number as Int64: number
        case let number as Double: Int64(number)
        case let number as NSNumber: number.int64Value
        default: nil
        }
    }

    /// psql on this database, waited for off the cooperative pool.
    @discardableResult
    public func psql(_ sql: String, variables: [String: String] = [:]) async throws -> String {
        let (cluster, name) = (cluster, name)
        return try await PostgresTestCluster.offPool { try cluster.psql(sql, database: name, variables: variables) }
    }

    static func objects(_ json: String) throws -> [[String: Any]] {
        guard let objects = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]] else {
            throw PostgresTestCluster.ClusterError("psql printed no JSON array: \(json)")
        }
        return objects
    }

    public func remove() {
        pool.cancel()
        cluster.dropDatabase(name)
    }
}
