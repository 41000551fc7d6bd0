import FakeWeChatPay
import Foundation
import OrderClosingTestSupport
import Testing

/// Issue 15's proof, scaled to a test run: three daemons (three processes) on one PostgreSQL queue
/// with mixed faults; one daemon SIGKILLed and PostgreSQL restarted mid-run. Every order ends
/// right, none is closed early, and every call the fake saw is an audit row, except the calls the
/// killed daemon had in flight (those orders come back in doubt and are closed again).
@Suite(.serialized, .enabled(if: PostgresTestCluster.shouldRun, Comment(rawValue: PostgresTestCluster.missingMessage)))
struct PostgresSharedQueueTests {
    static let orders = 300

    @Test func threeDaemonsOneKilledAndAPostgreSQLRestartDecideEveryOrderRight() async throws {
        let cluster = try await PostgresTestCluster.offPool { try PostgresTestCluster() }   // its own server: this test restarts it
        defer { cluster.stop() }
        let name = try await PostgresTestCluster.offPool { try cluster.createDatabase() }
        var settings = EndToEndWorld.Settings()
        settings.databaseURL = "postgresql://\(cluster.user)@127.0.0.1:\(cluster.port)/\(name)?sslmode=disable"
        let world = try await EndToEndWorld.start(settings)
        #expect(try await EndToEndWorld.runCLI(["migrate", "--config", world.configPath]).status == 0)

        let now = Int64(Date().timeIntervalSince1970)
        let (A, B) = (EndToEndWorld.mchA, EndToEndWorld.mchB)
        try cluster.psql("""
            INSERT INTO pending_orders (mch_id, appid, out_trade_no, created_at, timeout_seconds)
            SELECT CASE WHEN n % 2 = 0 THEN :'a' ELSE :'b' END, :'app', 'SQ-' || n, :'created'::bigint, 0
            FROM generate_series(1, \(Self.orders)) AS n
            """, database: name, variables: ["a": A, "b": B, "app": EndToEndWorld.appID, "created": String(now - 400)])
        for n in 1...Self.orders {
            world.fake.addOrder(mchID: n.isMultiple(of: 2) ? A : B, outTradeNo: "SQ-\(n)", createdAt: Double(now - 400))
        }
        world.fake.latency = .milliseconds(40)
        world.fake.setFaultRate(0.1, faults: [.systemError, .http500, .http503])

        var daemons: [DaemonProcess] = []
        for index in 0..<3 { daemons.append(try await world.startDaemon(logName: "daemon-\(index).log").0) }
        let logs = { daemons.map { $0.log.suffix(1500) }.joined(separator: "\n---\n") }

        try await within(.seconds(120), "the fake to see 40 calls") { await world.fake.waitForCalls(40) }
        daemons[0].signal(SIGKILL)
        #expect(await daemons[0].exitStatus(within: .seconds(60), "the killed daemon to end") != nil)

        try await within(.seconds(120), "the fake to see 120 calls") { await world.fake.waitForCalls(120) }
        try await PostgresTestCluster.offPool {
            cluster.stopServer()
            try cluster.start()
        }

        func count(_ sql: String) throws -> Int {
            Int(try cluster.psql(sql, database: name).trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
        }
        try await waitUntil("every order decided", timeout: .seconds(180), detail: logs()) {
            (try? count("SELECT count(*) FROM pending_orders WHERE status IN ('pending', 'closing')")) == 0
        }
        for daemon in daemons.dropFirst() {
            daemon.signal(SIGTERM)
            #expect(await daemon.exitStatus() == 0, "\(daemon.log.suffix(3000))")
        }

        #expect(try count("SELECT count(*) FROM pending_orders WHERE status = 'closed' AND outcome IN ('closed', 'already_closed')")
                == Self.orders, "\(logs())")
        #expect(world.fake.violations.isEmpty, "early closes: \(world.fake.violations)")
        // Each order: the calls the fake saw are its audit rows, unless it was in doubt (the killed
        // daemon's call in flight, never recorded); then the fake saw at most one more.
        let audited = try cluster.psql("""
            SELECT p.out_trade_no || ' ' || p.in_doubt || ' ' || count(a.id) FROM pending_orders p
            LEFT JOIN close_attempts a ON a.order_id = p.id AND a.operation = 'closeorder'
            GROUP BY p.out_trade_no, p.in_doubt
            """, database: name).split(separator: "\n").map { $0.split(separator: " ") }
        let calls = Dictionary(grouping: world.fake.calls.filter { $0.path == "/pay/closeorder" }, by: \.outTradeNo).mapValues(\.count)
        #expect(audited.count == Self.orders)
        var inDoubt = 0
        for row in audited {
            let (order, doubted, recorded) = (String(row[0]), row[1] == "1", Int(row[2]) ?? -1)
            let seen = calls[order] ?? 0
            if doubted {
                inDoubt += 1
                #expect(seen == recorded || seen == recorded + 1, "\(order): \(recorded) audit rows, the fake saw \(seen)")
            } else {
                #expect(seen == recorded, "\(order): \(recorded) audit rows, the fake saw \(seen)")
            }
        }
        #expect(calls.values.reduce(0, +) - audited.compactMap { Int($0[2]) }.reduce(0, +) <= inDoubt)
        try await world.shutdown()
    }

    /// Runs `body`, failing (not hanging) if it has not returned within `timeout`. The body may
    /// not heed cancellation (the fake's waits do not), so nothing waits for it after the deadline.
    func within(_ timeout: Duration, _ awaited: String, _ body: @escaping @Sendable () async -> Void) async throws {
        let first = FirstOf()
        let finished = await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            Task { await body(); if first.claim() { continuation.resume(returning: true) } }
            Task { try? await Task.sleep(for: timeout); if first.claim() { continuation.resume(returning: false) } }
        }
        if !finished { throw TimedOut(awaited: awaited, timeout: timeout) }
    }
}

/// True for the first caller only.
final class FirstOf: @unchecked Sendable {
    private let lock = NSLock()
    private var claimed = false
    func claim() -> Bool { lock.withLock { defer { claimed = true }; return !claimed } }
}
