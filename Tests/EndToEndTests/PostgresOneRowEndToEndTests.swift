import FakeWeChatPay
import Foundation
import OrderClosingTestSupport
import StoreTestSupport
import Testing

/// Issue 21 with the real binary on a PostgreSQL queue: the row that stopped every merchant is
/// refused at INSERT naming the column, and a row the schema admits but whose claim fails (its
/// `attempts` at the top of bigint) ends failed while every other order is closed, with no outage.
@Suite(.serialized, .enabled(if: PostgresTestCluster.shouldRun, Comment(rawValue: PostgresTestCluster.missingMessage)))
struct PostgresOneRowEndToEndTests {
    @Test func oneRowNeverStopsTheQueue() async throws {
        let cluster = try await PostgresTestCluster.offPool { try PostgresTestCluster.shared() }
        let name = try await PostgresTestCluster.offPool { try cluster.createDatabase() }
        defer { cluster.dropDatabase(name) }
        var settings = EndToEndWorld.Settings()
        settings.databaseURL = "postgresql://\(cluster.user)@127.0.0.1:\(cluster.port)/\(name)?sslmode=disable"
        let world = try await EndToEndWorld.start(settings)
        let migrate = try await EndToEndWorld.runCLI(["migrate", "--config", world.configPath])
        #expect(migrate.status == 0, "\(migrate.output)")

        let now = Int64(Date().timeIntervalSince1970)
        func insert(_ outTradeNo: String, _ mchID: String, createdAt: String, timeout: String = "0") throws {
            try cluster.psql(
                """
                INSERT INTO pending_orders (mch_id, appid, out_trade_no, created_at, timeout_seconds)
                VALUES (:'mch', :'app', :'otn', \(createdAt), \(timeout))
                """, database: name, variables: ["mch": mchID, "app": EndToEndWorld.appID, "otn": outTradeNo])
        }
        for (createdAt, otn) in [("1700000000", "ISSUE-ROW"), ("floor(extract(epoch from now()))::bigint", "ISSUE-ROW-NOW")] {
            let refused = Result { try insert(otn, EndToEndWorld.mchA, createdAt: createdAt, timeout: "9223370336854775") }
            #expect(
                "\(refused)".contains("pending_orders_timeout_seconds_is_at_most_10_years")
                    && "\(refused)".contains("timeout_seconds"),
                "\(refused)")
        }
        let (A, B) = (EndToEndWorld.mchA, EndToEndWorld.mchB)
        try insert("PG-BROKEN", A, createdAt: String(now - 401))
        try cluster.psql(
            "UPDATE pending_orders SET attempts = 9223372036854775807 WHERE out_trade_no = 'PG-BROKEN'", database: name)
        for index in 0..<20 {
            let (otn, mchID) = ("PG-DUE-\(index)", index.isMultiple(of: 2) ? A : B)
            world.fake.addOrder(mchID: mchID, outTradeNo: otn, createdAt: Double(now - 400), state: .notPay)
            try insert(otn, mchID, createdAt: String(now - 400))
        }

        let (daemon, notify) = try await world.startDaemon()
        func count(_ condition: String) throws -> Int {
            Int(
                try cluster.psql("SELECT count(*) FROM pending_orders WHERE \(condition)", database: name)
                    .trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
        }
        try await waitUntil("every order decided", timeout: .seconds(120), detail: daemon.log.suffix(3000).description) {
            try count("status IN ('pending', 'closing')") == 0
        }
        daemon.signal(SIGTERM)
        #expect(await notify.waitFor("STOPPING=1", timeout: .seconds(60)).found)
        #expect(await daemon.exitStatus() == 0, "\(daemon.log.suffix(3000))")

        #expect(try count("out_trade_no LIKE 'PG-DUE-%' AND status = 'closed'") == 20)
        let broken = try cluster.psql(
            "SELECT status || ' ' || last_error FROM pending_orders WHERE out_trade_no = 'PG-BROKEN'", database: name)
        #expect(
            broken.hasPrefix("failed closeorderd could not claim this row: ") && broken.contains("bigint out of range"),
            "\(broken)")
        #expect(daemon.log.contains("PG-BROKEN (mch \(A)) cannot be claimed and ends failed"), "\(daemon.log.suffix(3000))")
        #expect(!daemon.log.contains("database error"), "one row was taken for an outage: \(daemon.log.suffix(3000))")
        #expect(world.fake.calls.allSatisfy { $0.outTradeNo != "PG-BROKEN" })
        #expect(world.fake.violations.isEmpty, "early closes: \(world.fake.violations)")
        try await world.shutdown()
    }
}
