/// Hooks into the closing loop, for tests that wait on events instead of sleeping, and for metrics.
public struct ClosingEvents: Sendable {
    public var onClaimed: (@Sendable (Int) -> Void)?
    public var onSleeping: (@Sendable (_ until: Int64, _ inFlight: Int) -> Void)?
    public var onRecorded: (@Sendable ([OrderWrite]) -> Void)?

    public init(onClaimed: (@Sendable (Int) -> Void)? = nil,
                onSleeping: (@Sendable (_ until: Int64, _ inFlight: Int) -> Void)? = nil,
                onRecorded: (@Sendable ([OrderWrite]) -> Void)? = nil) {
        self.onClaimed = onClaimed
        self.onSleeping = onSleeping
        self.onRecorded = onRecorded
    }

    func claimed(_ count: Int) { onClaimed?(count) }
    func sleeping(until: Int64, inFlight: Int) { onSleeping?(until, inFlight) }
    func recorded(_ writes: [OrderWrite]) { onRecorded?(writes) }
}
