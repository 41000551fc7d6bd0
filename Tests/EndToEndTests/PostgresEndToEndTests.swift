import FakeWeChatPay
import Foundation
import OrderClosingTestSupport
import StoreTestSupport
import Testing

/// The real binary on a PostgreSQL queue (a throw-away cluster, `PostgresTestCluster`) against the
/// fake WeChat Pay, with this process writing orders through psql as the merchant's app would.
/// Skipped, saying what to install, where PostgreSQL is missing and CI is not set.
@Suite(.serialized, .enabled(if: PostgresTestCluster.shouldRun, Comment(rawValue: PostgresTestCluster.missingMessage)))
struct PostgresEndToEndTests {
    @Test func theDaemonClosesOrdersFromAPostgreSQLQueue() async throws {
        let cluster = try await PostgresTestCluster.offPool { try PostgresTestCluster.shared() }
        let name = try await PostgresTestCluster.offPool { try cluster.createDatabase() }
        defer { cluster.dropDatabase(name) }
        var settings = EndToEndWorld.Settings()
        settings.databaseURL = "postgresql://\(cluster.user)@127.0.0.1:\(cluster.port)/\(name)?sslmode=disable"
        let world = try await EndToEndWorld.start(settings)
        let migrate = try await EndToEndWorld.runCLI(["migrate", "--config", world.configPath])
        #expect(migrate.status == 0 && migrate.output.contains("applied 1, 2"), "\(migrate.output)")
        let again = try await EndToEndWorld.runCLI(["migrate", "--config", world.configPath])
        #expect(again.status == 0 && again.output.contains("up to date"), "\(again.output)")

        let now = Int64(Date().timeIntervalSince1970)
        let (A, B) = (EndToEndWorld.mchA, EndToEndWorld.mchB)
        // As the merchant's app does: the order is placed with WeChat first, then its row written
        // (the daemon, woken by NOTIFY, may close it at once).
        func insert(
            _ outTradeNo: String, _ mchID: String, createdAt: Int64, timeout: Int64 = 0, knownToWeChat: FakeOrderState? = .notPay
        ) throws {
            if let knownToWeChat {
                world.fake.addOrder(mchID: mchID, outTradeNo: outTradeNo, createdAt: Double(createdAt), state: knownToWeChat)
            }
            try cluster.psql(
                """
                INSERT INTO pending_orders (mch_id, appid, out_trade_no, created_at, timeout_seconds)
                VALUES (:'mch', :'app', :'otn', :'created'::bigint, :'timeout'::bigint)
                """, database: name,
                variables: [
                    "mch": mchID, "app": EndToEndWorld.appID, "otn": outTradeNo,
                    "created": String(createdAt), "timeout": String(timeout),
                ])
        }
        for index in 0..<6 { try insert("PG-NOW-\(index)", index.isMultiple(of: 2) ? A : B, createdAt: now - 400) }
        try insert("PG-WECHAT-PAID", A, createdAt: now - 400, knownToWeChat: .paid)
        try insert("PG-NOT-AT-WECHAT", B, createdAt: now - 400, knownToWeChat: nil)
        try insert("PG-APP-PAID", B, createdAt: now - 300 + 3)
        try cluster.psql(
            "UPDATE pending_orders SET status = 'paid' WHERE out_trade_no = 'PG-APP-PAID' AND status IN ('pending', 'closing')",
            database: name)

        let (daemon, notify) = try await world.startDaemon()
        // Written while the daemon runs, already due: LISTEN/NOTIFY (or, failing that, the poll) finds it.
        try insert("PG-WHILE-RUNNING", A, createdAt: now - 400)
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

        let rows = try cluster.psql(
            "SELECT out_trade_no || ' ' || status || ' ' || coalesce(outcome, '-') FROM pending_orders ORDER BY out_trade_no",
            database: name
        ).split(separator: "\n").map(String.init)
        #expect(
            rows == [
                "PG-APP-PAID paid -", "PG-NOT-AT-WECHAT closed not_exist",
                "PG-NOW-0 closed closed", "PG-NOW-1 closed closed", "PG-NOW-2 closed closed",
                "PG-NOW-3 closed closed", "PG-NOW-4 closed closed", "PG-NOW-5 closed closed",
                "PG-WECHAT-PAID paid paid", "PG-WHILE-RUNNING closed closed",
            ])
        // Every POST to WeChat is an audit row, and no close came early.
        let audited = Int(
            try cluster.psql("SELECT count(*) FROM close_attempts WHERE operation = 'closeorder'", database: name)
                .trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(audited == world.fake.calls.filter { $0.path == "/pay/closeorder" }.count)
        #expect(world.fake.calls.allSatisfy { $0.outTradeNo != "PG-APP-PAID" })
        #expect(world.fake.violations.isEmpty, "early closes: \(world.fake.violations)")
        // The daemon's heartbeat reached the shared database, and its log names no secret.
        #expect(daemon.log.contains("postgresql://postgres@127.0.0.1"), "the daemon does not say which queue it uses")
        for key in world.keys.values { #expect(!daemon.log.contains(key)) }
        try await world.shutdown()
    }
}

/// `database.url` as `check-config` and `run` read it: needs no server.
struct PostgresConfigTests {
    func config(in folder: URL, database: String) -> URL {
        let key = folder.appendingPathComponent("1900000109.key")
        CLIHarness.write("0123456789abcdef0123456789abcdef", to: key)
        let config = folder.appendingPathComponent("config.json")
        CLIHarness.write(
            """
            { "database": \(database),
              "wechatpay": { "primary_url": "http://127.0.0.1:9", "failover": false },
              "merchants": { "1900000109": { "appids": ["wx2421b1c4370ec43b"], "key_file": "\(key.path)" } } }
            """, to: config)
        return config
    }

    @Test func theURLSelectsPostgreSQLAndBadOnesAreRefusedSayingWhy() async throws {
        let folder = try CLIHarness.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let password = folder.appendingPathComponent("db-password")
        CLIHarness.write("s3cret-pg-pass\n", to: password)

        let good = config(
            in: folder,
            database: """
                { "url": "postgresql://closeorderd@db.internal:5432/shop?sslmode=verify-full", "password_file": "\(password.path)" }
                """)
        let check = try await CLIHarness.run(["check-config", "--config", good.path])
        #expect(check.status == 0, "\(check.output)")
        #expect(
            check.output.contains("database.url = postgresql://closeorderd@db.internal:5432/shop?sslmode=verify-full"),
            "\(check.output)")
        #expect(check.output.contains("<redacted> from password_file"), "\(check.output)")
        // An operator command on a PostgreSQL config goes to PostgreSQL (not to a SQLite file), and
        // a server it cannot reach is named at once, with why, and no password.
        let status = try await CLIHarness.run(["status", "--config", good.path])
        #expect(status.status == 1, "\(status.output)")
        #expect(
            status.output.contains("cannot connect to the PostgreSQL database postgresql://closeorderd@db.internal:5432/shop"),
            "\(status.output)")
        #expect(!status.output.contains("s3cret-pg-pass"))

        let cases: [(String, String)] = [
            (
                "{ \"path\": \"\(folder.path)/orders.sqlite\", \"url\": \"postgresql://u@h/db?sslmode=disable\" }",
                "set database.path (SQLite) or database.url (PostgreSQL), not both"
            ),
            ("{ \"url\": \"postgresql://u:s3cret-pg-pass@h/db?sslmode=disable\" }", "must not hold a password"),
            ("{ \"url\": \"postgresql://u@h/db\" }", "needs sslmode"),
            ("{ \"url\": \"postgresql://u@h/db?sslmode=disable\", \"password_file\": \"relative\" }", "must be an absolute path"),
        ]
        for (database, reason) in cases {
            let bad = config(in: folder, database: database)
            let refused = try await CLIHarness.run(["check-config", "--config", bad.path])
            #expect(refused.status == 1 && refused.output.contains(reason), "\(database): \(refused.output)")
            #expect(!refused.output.contains("s3cret-pg-pass"), "a password is never echoed")
            let run = try await CLIHarness.run(["run", "--config", bad.path], timeout: 15)
            #expect(run.status == 78, "\(database): run \(run.status)\n\(run.output)")
        }
    }
}
