import NIOConcurrencyHelpers

/// Tells the idle loop to look at the queue now instead of at its next timer: PostgreSQL's
/// `NOTIFY` on a new or paid row (`PostgresQueueListener`). A nudge only moves a look earlier;
/// the poll (`ClosingSettings.pollIntervalMs`) stays the fallback, so a lost notification (a
/// reconnecting listener) delays nothing beyond the poll. A nudge while nobody waits is kept for
/// the next wait (which then ends at once), so one that lands while the loop is going to sleep is
/// not lost; several such nudges count as one.
public final class QueueNudges: Sendable {
    private struct State {
        var nextID: UInt64 = 0
        var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
        var cancelled: Set<UInt64> = []
        var count = 0
        /// A nudge came while nobody waited.
        var pending = false
    }

    private let state = NIOLockedValueBox(State())

    public init() {}

    /// How many nudges arrived (for tests and logs).
    public var count: Int { state.withLockedValue { $0.count } }

    /// Wakes every waiter.
    public func nudge() {
        let waiters = state.withLockedValue { state in
            state.count += 1
            state.pending = state.waiters.isEmpty
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        waiters.forEach { $0.resume() }
    }

    /// Returns at the next nudge (or at once for one kept while nobody waited), or when cancelled.
    public func next() async {
        let id: UInt64? = state.withLockedValue { state in
            if state.pending {
                state.pending = false
                return nil
            }
            state.nextID += 1
            return state.nextID
        }
        guard let id else { return }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let cancelledAlready = state.withLockedValue { state in
                    if state.cancelled.remove(id) != nil { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if cancelledAlready { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLockedValue { state in
                if let waiter = state.waiters.removeValue(forKey: id) { return Optional(waiter) }
                state.cancelled.insert(id)
                return nil
            }
            waiter?.resume()
        }
    }
}
