import FakeWeChatPay
import Foundation
import GRDB
import Testing

/// Issue 11's pushback: WeChat answering FREQUENCY_LIMITED above a rate. The real binary against
/// the fake over loopback; the fake's clock is held still, so its token bucket admits exactly its
/// burst and refuses every other call until the test lifts the limit: no timing is involved.
@Suite(.serialized) struct PushbackEndToEndTests {
    @Test func pushbackBurnsNoAttemptAndEveryOrderEndsClosed() async throws {
        let frozenAt = Date().timeIntervalSince1970
        var settings = EndToEndWorld.Settings()
        settings.fakeNow = { frozenAt }
        // Only catches a hang: at the default 1 s a loaded machine timed out one retry before it
        // reached the fake (39 audit rows for 38 calls). Pushback retries every second, so this
        // test makes more calls than most.
        settings.totalTimeoutMs = 10_000
        settings.leaseMs = 30_000  // a lease must outlast one call
        let world = try await EndToEndWorld.start(settings)
        let migrate = try await EndToEndWorld.runCLI(["migrate", "--config", world.configPath])
        #expect(migrate.status == 0, "\(migrate.output)")
        let merchant = try world.merchantDatabase()
        let createdAt = Int64(Date().timeIntervalSince1970) - 400
        let orders = Dictionary(
            uniqueKeysWithValues: (0..<12).map {
                ("PUSH-\($0)", $0.isMultiple(of: 2) ? EndToEndWorld.mchA : EndToEndWorld.mchB)
            })
        for (outTradeNo, mchID) in orders {
            try await merchant.write { db in
                try db.execute(
                    sql:
                        "INSERT INTO pending_orders (mch_id, appid, out_trade_no, created_at, timeout_seconds) VALUES (?, ?, ?, ?, 0)",
                    arguments: [mchID, EndToEndWorld.appID, outTradeNo, createdAt])
            }
            world.fake.addOrder(mchID: mchID, outTradeNo: outTradeNo, createdAt: Double(createdAt))
        }
        // Two calls admitted; with the clock held, every later one is refused until the limit is lifted.
        world.fake.setRateLimit(perSecond: 1, burst: 2)

        let (daemon, notify) = try await world.startDaemon()
        // Twice as many calls as orders: at least 12 refused, many of them retries of a refused order.
        try await waitUntil("24 calls at the fake", timeout: .seconds(120), detail: String(daemon.log.suffix(3000))) {
            world.fake.calls.count >= 24
        }
        world.fake.setRateLimit(perSecond: nil)

        try await waitUntil("every order decided", timeout: .seconds(120), detail: String(daemon.log.suffix(3000))) {
            try merchant.read { db in
                try Int.fetchOne(db, sql: "SELECT count(*) FROM pending_orders WHERE status IN ('pending', 'closing')") == 0
            }
        }
        daemon.signal(SIGTERM)
        #expect(await notify.waitFor("STOPPING=1", timeout: .seconds(60)).found, "no STOPPING=1 within 60 s of SIGTERM")
        #expect(await daemon.exitStatus() == 0, "\(daemon.log.suffix(3000))")

        let calls = world.fake.calls.filter { $0.path == "/pay/closeorder" }
        let limited = calls.filter { $0.answer == "FREQUENCY_LIMITED" }
        #expect(limited.count >= 12, "the fake refused only \(limited.count) calls")
        #expect(Set(limited.compactMap(\.outTradeNo)).count > 1, "pushback reached only one order")
        let rows = try await merchant.read { db in
            try Row.fetchAll(db, sql: "SELECT out_trade_no, status, outcome, attempts, last_err_code FROM pending_orders")
        }
        #expect(rows.count == orders.count)
        for row in rows {
            let outTradeNo: String = row["out_trade_no"]
            #expect(row["status"] as String == "closed", "\(outTradeNo)")
            #expect(row["outcome"] as String? == "closed", "\(outTradeNo)")
            // Pushback is not the order's fault: only the call that closed it counts.
            #expect(row["attempts"] as Int == 1, "\(outTradeNo): \(row["attempts"] as Int) attempts")
            #expect(
                world.fake.orderState(mchID: orders[outTradeNo] ?? "", outTradeNo: outTradeNo) == .closed,
                "\(outTradeNo) at the fake")
        }
        // The audit table records every call, the refused ones as FREQUENCY_LIMITED, attempt 1 each.
        let audit = try await merchant.read { db in
            try Row.fetchAll(db, sql: "SELECT out_trade_no, attempt, err_code FROM close_attempts WHERE operation = 'closeorder'")
        }
        #expect(audit.count == calls.count, "\(audit.count) audit rows for the fake's \(calls.count) calls")
        #expect(audit.filter { $0["err_code"] as String? == "FREQUENCY_LIMITED" }.count == limited.count)
        #expect(audit.allSatisfy { $0["attempt"] as Int == 1 }, "a retry after pushback counted as a new attempt")
        #expect(world.fake.violations.isEmpty, "early closes: \(world.fake.violations)")
        try await world.shutdown()
    }
}
