/// Hooks into the closing loop, for tests that wait on events instead of sleeping, and for metrics.
public struct ClosingEvents: Sendable {
    /// Orders claimed in one transaction.
    public var onClaimed: (@Sendable (Int) -> Void)?
    /// Writes flushed in one transaction.
    public var onRecorded: (@Sendable ([OrderWrite]) -> Void)?
    /// The loop is about to wait for a call to finish or a timer, with this many calls in flight.
    /// With 0 in flight, the loop is idle until its timer or shutdown.
    public var onWaiting: (@Sendable (_ inFlight: Int) -> Void)?

    public init(
        onClaimed: (@Sendable (Int) -> Void)? = nil,
        onRecorded: (@Sendable ([OrderWrite]) -> Void)? = nil,
        onWaiting: (@Sendable (_ inFlight: Int) -> Void)? = nil
    ) {
        self.onClaimed = onClaimed
        self.onRecorded = onRecorded
        self.onWaiting = onWaiting
    }

    func claimed(_ count: Int) { onClaimed?(count) }
    func recorded(_ writes: [OrderWrite]) { onRecorded?(writes) }
    func waiting(inFlight: Int) { onWaiting?(inFlight) }
}
