import FakeWeChatPay
import Foundation
import GRDB
import Testing

/// The real binary against the fake WeChat Pay over loopback, with this test process writing
/// orders as the merchant's app would.
@Suite(.serialized) struct EndToEndTests {
    struct Expectation {
        let outTradeNo: String
        let mchID: String
        let status: String
        let outcome: String?
    }

    @Test func everyOrderEndsRightAndTheAuditMatchesTheFake() async throws {
        var settings = EndToEndWorld.Settings()
        let metricsPort = try ReservedPort()  // held until the test ends: no one else can take it
        settings.metricsPort = metricsPort.port
        let world = try await EndToEndWorld.start(settings)
        let migrate = try await EndToEndWorld.runCLI(["migrate", "--config", world.configPath])
        #expect(migrate.status == 0, "\(migrate.output)")
        let merchant = try world.merchantDatabase()
        let now = Int64(Date().timeIntervalSince1970)
        let (A, B) = (EndToEndWorld.mchA, EndToEndWorld.mchB)

        var expected: [Expectation] = []
        func order(
            _ outTradeNo: String, _ mchID: String, createdAt: Int64, timeout: Int64 = 0, knownToWeChat: FakeOrderState? = .notPay,
            faults: [FakeFault] = [], status: String, outcome: String?
        ) throws {
            try merchant.write { db in
                try db.execute(
                    sql:
                        "INSERT INTO pending_orders (mch_id, appid, out_trade_no, created_at, timeout_seconds) VALUES (?, ?, ?, ?, ?)",
                    arguments: [mchID, EndToEndWorld.appID, outTradeNo, createdAt, timeout])
            }
            if let knownToWeChat {
                world.fake.addOrder(mchID: mchID, outTradeNo: outTradeNo, createdAt: Double(createdAt), state: knownToWeChat)
            }
            if !faults.isEmpty { world.fake.script(mchID: mchID, outTradeNo: outTradeNo, faults) }
            expected.append(Expectation(outTradeNo: outTradeNo, mchID: mchID, status: status, outcome: outcome))
        }
        for index in 0..<6 {
            try order("NOW-\(index)", index.isMultiple(of: 2) ? A : B, createdAt: now - 400, status: "closed", outcome: "closed")
        }
        for index in 0..<3 {  // due 2–4 s from now: the fake flags any close that comes early
            try order(
                "LATER-\(index)", A, createdAt: now - 300 + 2 + Int64(index), timeout: 120, status: "closed", outcome: "closed")
        }
        try order("WECHAT-PAID", A, createdAt: now - 400, knownToWeChat: .paid, status: "paid", outcome: "paid")
        try order("APP-PAID", B, createdAt: now - 300 + 3, status: "paid", outcome: nil)
        try await merchant.write { db in
            try db.execute(
                sql:
                    "UPDATE pending_orders SET status = 'paid' WHERE mch_id = ? AND out_trade_no = 'APP-PAID' AND status IN ('pending', 'closing')",
                arguments: [B])
        }
        try order("NOT-AT-WECHAT", B, createdAt: now - 400, knownToWeChat: nil, status: "closed", outcome: "not_exist")
        let faultCases: [(String, [FakeFault], String)] = [
            ("F-SYSERR", [.systemError, .systemError], "closed"),
            ("F-HTTP500", [.http500], "closed"),
            ("F-HTTP503", [.http503], "closed"),
            ("F-RESET", [.connectionReset], "closed"),
            ("F-MALFORMED", [.malformedBody], "closed"),
            ("F-BADSIGN", [.badResponseSignature], "already_closed"),  // it acted, but its answer was not believed
            ("F-FORGED-PAID", [.forgedOrderPaid], "closed"),
            ("F-FORGED-OK", [.forgedSuccess], "closed"),
            ("F-CLOSED", [.orderClosed], "already_closed"),
            ("F-SLOW", [.slowAnswer], "already_closed"),  // timed out after sending: in doubt, re-closed
        ]
        for (index, (name, faults, outcome)) in faultCases.enumerated() {
            try order(
                name, index.isMultiple(of: 2) ? A : B, createdAt: now - 400, faults: faults, status: "closed", outcome: outcome)
        }
        try order("NO-KEY", "1900000999", createdAt: now - 400, knownToWeChat: nil, status: "failed", outcome: nil)

        let (daemon, notify) = try await world.startDaemon()

        let decided = try await eventually(timeout: .seconds(120)) {
            try merchant.read { db in
                try Int.fetchOne(db, sql: "SELECT count(*) FROM pending_orders WHERE status IN ('pending', 'closing')") == 0
            }
        }
        #expect(decided, "orders left undecided; log: \(daemon.log.suffix(3000))")

        // The Prometheus endpoint on loopback reports attempts by outcome and call latency.
        let portField = "\"port\":\"\(metricsPort.port)\""
        let portNumber = "\"port\":\(metricsPort.port)"
        #expect(daemon.log.contains(portField) || daemon.log.contains(portNumber), "the daemon does not say which port it bound")
        let metrics = try await EndToEndWorld.run(
            "/usr/bin/curl", ["-sf", "--max-time", "30", "http://127.0.0.1:\(metricsPort.port)/metrics"])
        #expect(metrics.contains("closeorderd_attempts_total{outcome=\"closed\",mch_id=\"\(A)\"}"), "\(metrics.prefix(1500))")
        // Issue 12: every series has a # HELP line; the overdue gauges and the failed counter are exported.
        let names = Set(metrics.split(separator: "\n").filter { $0.hasPrefix("# TYPE ") }.map { $0.split(separator: " ")[2] })
        let helped = Set(metrics.split(separator: "\n").filter { $0.hasPrefix("# HELP ") }.map { $0.split(separator: " ")[2] })
        #expect(!names.isEmpty && names.isSubset(of: helped), "series without # HELP: \(names.subtracting(helped))")
        for name in ["closeorderd_overdue_orders", "closeorderd_oldest_overdue_seconds", "closeorderd_orders_failed_total"] {
            #expect(names.contains(Substring(name)), "\(name) is not exported")
        }
        #expect(metrics.contains("closeorderd_call_duration_seconds_bucket"))

        daemon.signal(SIGTERM)
        let stopping = await notify.waitFor("STOPPING=1", timeout: .seconds(60))
        #expect(stopping.found, "no STOPPING=1 within 60 s of SIGTERM")
        #expect(await daemon.exitStatus() == 0, "\(daemon.log.suffix(3000))")

        let rows = try await merchant.read { db in try Row.fetchAll(db, sql: "SELECT * FROM pending_orders") }
        for expectation in expected {
            let row = try #require(
                rows.first { $0["out_trade_no"] == expectation.outTradeNo && $0["mch_id"] == expectation.mchID })
            #expect(row["status"] as String == expectation.status, "\(expectation.outTradeNo)")
            // A close that timed out after sending is closed again and answered ORDERCLOSED: right
            // too, provided it was closed again: a second attempt (slow machines, sanitizer builds).
            // (A decided order is no longer in doubt, issue 21.)
            let outcome: String? = row["outcome"]
            let reclosed = expectation.outcome == "closed" && outcome == "already_closed" && row["attempts"] as Int >= 2
            #expect(outcome == expectation.outcome || reclosed, "\(expectation.outTradeNo)")
        }
        let paid = try #require(rows.first { $0["out_trade_no"] == "WECHAT-PAID" })
        #expect(paid["transaction_id"] as String? == world.fake.transactionID(mchID: A, outTradeNo: "WECHAT-PAID"))
        #expect(
            (rows.first { $0["out_trade_no"] == "NO-KEY" }?["last_error"] as String?)
                == "no API key is configured for mch_id 1900000999")

        // The audit table and the fake's record of calls agree, order by order (AuditAgreement).
        let audit = try await merchant.read { db in try AuditAgreement.closeRows(db) }
        let calls = world.fake.calls
        let seen = Dictionary(grouping: calls.filter { $0.path == "/pay/closeorder" }, by: { $0.outTradeNo ?? "" }).mapValues(
            \.count)
        for agreement in AuditAgreement.check(expected.map(\.outTradeNo), audit: audit, seen: seen) {
            #expect(agreement.holds, "\(agreement)")
        }
        #expect(calls.filter { $0.outTradeNo == "APP-PAID" }.isEmpty)
        #expect(world.fake.violations.isEmpty, "early closes: \(world.fake.violations)")
        #expect(calls.allSatisfy { $0.signatureValid })

        // Nothing secret in the daemon's log.
        let log = daemon.log
        for key in world.keys.values { #expect(!log.contains(key)) }
        #expect(log.contains("\"out_trade_no\":\"F-SLOW\""))
        withExtendedLifetime(metricsPort) {}
        try await world.shutdown()
    }

    /// Issue 12: a taken metrics port is named by its config key, not by NIO's bind(descriptor:…) text.
    @Test func aTakenMetricsPortIsNamedByItsConfigKey() async throws {
        let taken = try ReservedPort(listening: true)  // another program's server on the port
        var settings = EndToEndWorld.Settings()
        settings.metricsPort = taken.port
        let world = try await EndToEndWorld.start(settings)
        #expect(try await EndToEndWorld.runCLI(["migrate", "--config", world.configPath]).status == 0)
        let (daemon, _) = try await world.startDaemon()
        let status = await daemon.exitStatus(within: .seconds(60), "the daemon to give up on a taken metrics port")
        #expect(status != nil && status != 0)
        let log = daemon.log
        #expect(log.contains("metrics.port \(taken.port) is already in use on 127.0.0.1"), "\(log.suffix(2000))")
        #expect(!log.contains("bind(descriptor"), "\(log.suffix(2000))")
        withExtendedLifetime(taken) {}
        try await world.shutdown()
    }
}
