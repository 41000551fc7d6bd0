import BenchSupport
import FakeWeChatPay

/// How the daemon behaved against a fake that answers FREQUENCY_LIMITED above `limit` calls a
/// second, read from the fake's own record of the run's closes (every call, pushback included).
///
/// "Settled" is the run's second half, by arrival time: by then the in-flight limit has had tens
/// of baseline round trips to move (it moves at most once per round trip).
struct PushbackStats {
    let limit: Double
    let latencyMs: Int
    /// Calls per order (1.0 would be no pushback at all).
    let callsPerOrder: Double
    /// Share of all calls answered FREQUENCY_LIMITED: in the first second, and in the settled half.
    let limitedShareFirstSecond: Double
    let limitedShareSettled: Double
    /// Calls per second offered in the settled half (all calls, pushback included), and closes per second done.
    let offeredPerSecondSettled: Double
    let closedPerSecondSettled: Double
    /// Calls outstanding at the fake (received within the last `latencyMs`), median over the settled
    /// half: what the daemon actually kept in flight. The rate allows `limit × latency`.
    let inFlightSettled: Double

    init(calls: [FakeCall], limit: Double, latencyMs: Int) {
        self.limit = limit
        self.latencyMs = latencyMs
        let sorted = calls.sorted { $0.receivedAt < $1.receivedAt }
        let orders = Set(sorted.compactMap(\.outTradeNo)).count
        callsPerOrder = orders == 0 ? .nan : Double(sorted.count) / Double(orders)
        guard let first = sorted.first?.receivedAt, let last = sorted.last?.receivedAt, last > first else {
            limitedShareFirstSecond = .nan; limitedShareSettled = .nan; offeredPerSecondSettled = .nan
            closedPerSecondSettled = .nan; inFlightSettled = .nan
            return
        }
        func limitedShare(_ slice: ArraySlice<FakeCall>) -> Double {
            slice.isEmpty ? .nan : Double(slice.filter { $0.answer == "FREQUENCY_LIMITED" }.count) / Double(slice.count)
        }
        let firstSecond = sorted.prefix { $0.receivedAt < first + 1 }
        limitedShareFirstSecond = limitedShare(firstSecond[...])
        let middle = first + (last - first) / 2
        let settledStart = sorted.firstIndex { $0.receivedAt >= middle } ?? sorted.endIndex
        let settled = sorted[settledStart...]
        limitedShareSettled = limitedShare(settled)
        let span = last - middle
        offeredPerSecondSettled = Double(settled.count) / span
        closedPerSecondSettled = Double(settled.filter(\.acted).count) / span
        // Two pointers: for each call, how many arrived in the latency window ending at it.
        let window = Double(latencyMs) / 1000
        var counts: [Double] = []
        var tail = 0
        for (index, call) in sorted.enumerated() {
            while sorted[tail].receivedAt <= call.receivedAt - window { tail += 1 }
            if index >= settledStart { counts.append(Double(index - tail + 1)) }
        }
        inFlightSettled = Spread(counts).median
    }
}
