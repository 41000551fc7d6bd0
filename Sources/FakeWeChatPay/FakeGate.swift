import NIOConcurrencyHelpers

/// A one-shot gate on the fake's answers: answers computed while it is closed wait for `open()`.
/// It lets a test keep calls in flight for exactly as long as it needs them there (until it has
/// seen what it waits for), where a fixed latency would race with a slow machine.
public final class FakeGate: Sendable {
    private let state = NIOLockedValueBox<(isOpen: Bool, waiters: [@Sendable () -> Void])>((false, []))

    public init() {}

    /// Runs `body` once the gate is open: at once if it already is.
    public func whenOpen(_ body: @escaping @Sendable () -> Void) {
        let runNow = state.withLockedValue { state -> Bool in
            if state.isOpen { return true }
            state.waiters.append(body)
            return false
        }
        if runNow { body() }
    }

    /// Opens the gate for good and lets every waiting answer go.
    public func open() {
        let waiters = state.withLockedValue { state -> [@Sendable () -> Void] in
            state.isOpen = true
            defer { state.waiters = [] }
            return state.waiters
        }
        waiters.forEach { $0() }
    }
}
