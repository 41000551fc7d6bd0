import Foundation
import GRDB
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

    /// Prints each order as it is decided, reading the table when the daemon has written outcomes
    /// (no polling interval to race with). Returns true once every order is decided; false if
    /// `timeout` passes first, a bound that only catches a hang.
    static func watch(
        pool: DatabasePool, expected: [DemoOrder], wakeups: AsyncStream<Void>,
        continuation: AsyncStream<Void>.Continuation, timeout: Duration
    ) async -> Bool {
        let deadline = Task {
            try? await Task.sleep(for: timeout)
            continuation.finish()
        }
        defer { deadline.cancel() }
        var reported: Set<String> = []
        let started = ContinuousClock.now
        func report() -> Bool {
            let rows = (try? table(pool: pool)) ?? []
            for row in rows where ["closed", "paid", "failed"].contains(row.status) && !reported.contains(row.outTradeNo) {
                reported.insert(row.outTradeNo)
                let story = expected.first { $0.outTradeNo == row.outTradeNo }?.story ?? ""
                let elapsed = (ContinuousClock.now - started).components.seconds
                print(
                    String(
                        format: "  +%2llds  %-19@ %-7@ %-15@ %@", elapsed, row.outTradeNo as NSString, row.status as NSString,
                        (row.outcome ?? "-") as NSString, story as NSString))
                fflush(nil)
            }
            return reported.count == expected.count
        }
        if report() { return true }  // the app's own decisions are in before the daemon starts
        for await _ in wakeups where report() { return true }
        return false
    }

    static func table(pool: DatabasePool) throws -> [Row] {
        try pool.read { db in
            try GRDB.Row.fetchAll(
                db,
                sql: """
                    SELECT out_trade_no, mch_id, status, outcome, attempts, transaction_id, last_error, conflict
                    FROM pending_orders ORDER BY id
                    """
            ).map { row in
                let detail =
                    (row["transaction_id"] as String?).map { "transaction_id \($0)" }
                    ?? (row["status"] as String == "failed" ? row["last_error"] as String? : nil) ?? ""
                return Row(
                    outTradeNo: row["out_trade_no"], mchID: row["mch_id"], status: row["status"],
                    outcome: row["outcome"], attempts: row["attempts"], detail: detail)
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
