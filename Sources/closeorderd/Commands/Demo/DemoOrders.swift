import FakeWeChatPay
import Foundation
import OrderClosing

/// The demo's sample orders: one for every outcome, each with what it should end as.
struct DemoOrder {
    let outTradeNo: String
    let mchID: String
    let timeoutSeconds: Int64
    /// Seconds from now until it falls due (created_at is back-dated by 300 s minus this).
    let dueIn: Int64
    let expectedStatus: String
    let expectedOutcome: String?
    let story: String
}

enum DemoOrders {
    static let all: [DemoOrder] = [
        DemoOrder(
            outTradeNo: "DEMO-CLOSE-HMAC", mchID: DemoWorld.merchantA, timeoutSeconds: 0, dueIn: 1,
            expectedStatus: "closed", expectedOutcome: "closed", story: "unpaid, closed (HMAC-SHA256)"),
        DemoOrder(
            outTradeNo: "DEMO-CLOSE-MD5", mchID: DemoWorld.merchantB, timeoutSeconds: 60, dueIn: 1,
            expectedStatus: "closed", expectedOutcome: "closed", story: "unpaid, closed (MD5; 60 s timeout, 5-minute floor)"),
        DemoOrder(
            outTradeNo: "DEMO-ALREADY", mchID: DemoWorld.merchantA, timeoutSeconds: 0, dueIn: 2,
            expectedStatus: "closed", expectedOutcome: "already_closed", story: "WeChat had closed it: ORDERCLOSED"),
        DemoOrder(
            outTradeNo: "DEMO-NOTEXIST", mchID: DemoWorld.merchantA, timeoutSeconds: 0, dueIn: 2,
            expectedStatus: "closed", expectedOutcome: "not_exist", story: "WeChat never saw it: ORDERNOTEXIST"),
        DemoOrder(
            outTradeNo: "DEMO-PAID", mchID: DemoWorld.merchantA, timeoutSeconds: 0, dueIn: 3,
            expectedStatus: "paid", expectedOutcome: "paid", story: "customer paid: ORDERPAID, reconciled by orderquery"),
        DemoOrder(
            outTradeNo: "DEMO-MERCHANT-PAID", mchID: DemoWorld.merchantB, timeoutSeconds: 0, dueIn: 3,
            expectedStatus: "paid", expectedOutcome: nil, story: "the app marked it paid first: never sent"),
        DemoOrder(
            outTradeNo: "DEMO-RETRY", mchID: DemoWorld.merchantA, timeoutSeconds: 0, dueIn: 4,
            expectedStatus: "closed", expectedOutcome: "closed", story: "SYSTEMERROR twice, then closed"),
        DemoOrder(
            outTradeNo: "DEMO-FORGED", mchID: DemoWorld.merchantB, timeoutSeconds: 0, dueIn: 4,
            expectedStatus: "closed", expectedOutcome: "closed", story: "a forged ORDERPAID (bad sign) ignored, then closed"),
        DemoOrder(
            outTradeNo: "DEMO-TIMEOUT", mchID: DemoWorld.merchantA, timeoutSeconds: 0, dueIn: 1,
            expectedStatus: "closed", expectedOutcome: "already_closed", story: "timed out after sending: in doubt, re-closed"),
        DemoOrder(
            outTradeNo: "DEMO-V3-CLOSE", mchID: DemoWorld.merchantV3, timeoutSeconds: 0, dueIn: 2,
            expectedStatus: "closed", expectedOutcome: "closed", story: "API v3: 204 to the close, confirmed by a query"),
        DemoOrder(
            outTradeNo: "DEMO-V3-PAID", mchID: DemoWorld.merchantV3, timeoutSeconds: 0, dueIn: 3,
            expectedStatus: "paid", expectedOutcome: "paid", story: "API v3: paid (TRADE_ERROR), the query gives the transaction"),
        DemoOrder(
            outTradeNo: "DEMO-NOKEY", mchID: "1900000999", timeoutSeconds: 0, dueIn: 5,
            expectedStatus: "failed", expectedOutcome: nil, story: "no key configured for its merchant"),
    ]

    /// Inserts the orders as the merchant's app would (through `OrderIntake`, so the schema judges
    /// them), marks one paid before it falls due, and tells the fake about the ones WeChat knows.
    static func place(into intake: any OrderIntake, fake: FakeWeChatPay, now: Date) async throws -> [DemoOrder] {
        let nowSeconds = Int64(now.timeIntervalSince1970.rounded(.down))
        let rows = all.map { order in
            NewOrder(
                mchID: order.mchID, appID: DemoWorld.appID, outTradeNo: order.outTradeNo,
                createdAt: nowSeconds - 300 + order.dueIn, timeoutSeconds: order.timeoutSeconds)
        }
        let refused = zip(all, try await intake.insert(rows)).compactMap { order, result -> String? in
            guard case .refused(let reason) = result else { return nil }
            return "\(order.outTradeNo): \(reason)"
        }
        guard refused.isEmpty else {
            throw StoreErrorMessage("the database refused demo orders: \(refused.joined(separator: "; "))")
        }
        for (order, row) in zip(all, rows) {
            let placed = Double(row.createdAt)
            switch order.outTradeNo {
            case "DEMO-NOTEXIST", "DEMO-NOKEY": break
            case "DEMO-ALREADY":
                fake.addOrder(mchID: order.mchID, outTradeNo: order.outTradeNo, createdAt: placed, state: .closed)
            case "DEMO-PAID", "DEMO-V3-PAID":
                fake.addOrder(mchID: order.mchID, outTradeNo: order.outTradeNo, createdAt: placed, state: .paid)
            default: fake.addOrder(mchID: order.mchID, outTradeNo: order.outTradeNo, createdAt: placed)
            }
        }
        // The app's payment notification arrives before the order is due.
        _ = try await intake.markPaid(mchID: DemoWorld.merchantB, outTradeNo: "DEMO-MERCHANT-PAID")
        fake.pay(mchID: DemoWorld.merchantB, outTradeNo: "DEMO-MERCHANT-PAID")
        fake.script(mchID: DemoWorld.merchantA, outTradeNo: "DEMO-RETRY", [.systemError, .systemError])
        fake.script(mchID: DemoWorld.merchantB, outTradeNo: "DEMO-FORGED", [.forgedOrderPaid])
        fake.script(mchID: DemoWorld.merchantA, outTradeNo: "DEMO-TIMEOUT", [.slowAnswer])
        return all
    }

    static func mismatches(_ orders: [DemoOrder], _ rows: [DemoProgress.Row]) -> [String] {
        orders.compactMap { order in
            guard let row = rows.first(where: { $0.outTradeNo == order.outTradeNo }) else {
                return "\(order.outTradeNo) is missing"
            }
            if row.status != order.expectedStatus || row.outcome != order.expectedOutcome {
                return
                    "\(order.outTradeNo) ended \(row.status)/\(row.outcome ?? "-"), expected \(order.expectedStatus)/\(order.expectedOutcome ?? "-")"
            }
            return nil
        }
    }
}
