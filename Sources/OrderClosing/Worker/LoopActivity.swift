import NIOConcurrencyHelpers

/// Whether the closing loop is idle — drained, with no call in flight — as it last said through
/// `ClosingEvents.onWaiting`. Housekeeping (`RetentionService`) works only then, so it never
/// competes with due orders for the database's write lock.
public final class LoopActivity: Sendable {
    /// nil until the loop first waits: it is starting, and may have a backlog.
    private let inFlight = NIOLockedValueBox<Int?>(nil)

    public init() {}

    /// Feed from `ClosingEvents.onWaiting`.
    public func waiting(inFlight count: Int) {
        inFlight.withLockedValue { $0 = count }
    }

    public var isIdle: Bool { inFlight.withLockedValue { $0 == 0 } }

    /// `events` with this activity fed from its `onWaiting`, beside whatever it did already.
    public func observing(_ events: ClosingEvents) -> ClosingEvents {
        var observed = events
        let previous = events.onWaiting
        observed.onWaiting = { [self] count in
            waiting(inFlight: count)
            previous?(count)
        }
        return observed
    }
}
