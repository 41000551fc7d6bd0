import Foundation
import OrderClosing

/// Prints each demo order as it is decided, and the final table.
enum DemoProgress {
    struct Row {
        let outTradeNo: String
        let mchID: String
        let status: String
        let outcome: String?
        let attempts: Int
        let detail: String
    }

    /// Closing-loop hooks that wake `watch` each time the daemon writes outcomes.
    static func wakeups() -> (events: ClosingEvents, stream: AsyncStream<Void>, continuation: AsyncStream<Void>.Continuation) {
        let (stream, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        return (ClosingEvents(onRecorded: { _ in continuation.yield() }), stream, continuation)
    }

    /// Prints each order as it is decided, reading the outcome feed on from where it left off when
    /// the daemon has written outcomes (no polling interval to race with). Returns true once every
    /// order is decided; false if `timeout` passes first, a bound that only catches a hang.
    static func watch(
        feed: any OutcomeFeed, expected: [DemoOrder], wakeups: AsyncStream<Void>,
        continuation: AsyncStream<Void>.Continuation, timeout: Duration
    ) async -> Bool {
        let deadline = Task {
            try? await Task.sleep(for: timeout)
            continuation.finish()
        }
        defer { deadline.cancel() }
        var follower = Follower(feed: feed, expected: expected)
        if await follower.report() { return true }  // the app's own decisions are in before the daemon starts
        for await _ in wakeups {
            if await follower.report() { return true }
        }
        return false
    }

    /// Reads the feed from its cursor and prints each order the first time it shows there.
    struct Follower {
        let feed: any OutcomeFeed
        let expected: [DemoOrder]
        let started = ContinuousClock.now
        var cursor = FeedCursor.start
        var reported: Set<String> = []

        /// Whether every expected order has been reported.
        mutating func report() async -> Bool {
            while let page = try? await feed.finishedOrders(after: cursor, limit: 100), !page.isEmpty {
                for order in page {
                    cursor = order.cursor
                    guard reported.insert(order.outTradeNo).inserted else { continue }
                    let story = expected.first { $0.outTradeNo == order.outTradeNo }?.story ?? ""
                    let elapsed = (ContinuousClock.now - started).components.seconds
                    print(
                        String(
                            format: "  +%2llds  %-19@ %-7@ %-15@ %@", elapsed, order.outTradeNo as NSString,
                            order.status.rawValue as NSString, (order.outcome ?? "-") as NSString, story as NSString))
                    fflush(nil)
                }
            }
            return reported.count == expected.count
        }
    }

    /// The orders as they stand, in the order they were placed: how each finished (the feed), or
    /// where an undecided one is (the operator's list).
    static func table(feed: any OutcomeFeed, queue: any OperatorStore, orders: [DemoOrder], now: Int64) async throws -> [Row] {
        var finished: [String: FinishedOrder] = [:]
        var cursor = FeedCursor.start
        while true {
            let page = try await feed.finishedOrders(after: cursor, limit: 100)
            guard let last = page.last else { break }
            for order in page { finished[order.outTradeNo] = order }
            cursor = last.cursor
        }
        var open: [String: OrderLine] = [:]
        if orders.contains(where: { finished[$0.outTradeNo] == nil }) {
            for line in try await queue.list(OrderFilter(limit: 10_000), now: now) { open[line.outTradeNo] = line }
        }
        return orders.compactMap { order in
            if let row = finished[order.outTradeNo] {
                let detail =
                    row.transactionID.map { "transaction_id \($0)" } ?? (row.status == .failed ? row.lastError : nil) ?? ""
                return Row(
                    outTradeNo: row.outTradeNo, mchID: row.mchID, status: row.status.rawValue, outcome: row.outcome,
                    attempts: row.attempts, detail: detail)
            }
            return open[order.outTradeNo].map { line in
                Row(
                    outTradeNo: line.outTradeNo, mchID: line.mchID, status: line.status, outcome: line.outcome,
                    attempts: line.attempts, detail: "")
            }
        }
    }

    static func render(_ rows: [Row]) -> String {
        let header = ["out_trade_no", "mch_id", "status", "outcome", "attempts", "detail"]
        let cells = rows.map { [$0.outTradeNo, $0.mchID, $0.status, $0.outcome ?? "-", String($0.attempts), $0.detail] }
        let widths = header.indices.map { column in ([header] + cells).map { $0[column].count }.max() ?? 0 }
        func line(_ values: [String]) -> String {
            values.enumerated().map { $0.element.padding(toLength: widths[$0.offset], withPad: " ", startingAt: 0) }
                .joined(separator: "  ")
        }
        return ([line(header), line(widths.map { String(repeating: "-", count: $0) })] + cells.map(line)).joined(separator: "\n")
    }
}
