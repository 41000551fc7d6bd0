import NIOConcurrencyHelpers
import OrderClosing

/// An `OrderClock` that moves only when a test says so. Sleepers wake when `advance` passes their
/// deadline; `waitForSleepers` lets a test wait until the code under test is parked, instead of
/// sleeping and hoping.
public final class ManualClock: OrderClock {
    struct Sleeper {
        let id: UInt64
        let deadline: Int64
        let continuation: CheckedContinuation<Void, any Error>
    }

    struct State {
        var now: Int64
        var nextID: UInt64 = 0
        var sleepers: [Sleeper] = []
        var waiters: [(ready: @Sendable ([Int64]) -> Bool, continuation: CheckedContinuation<Void, Never>)] = []
    }

    let state: NIOLockedValueBox<State>

    public init(now: Int64) {
        state = NIOLockedValueBox(State(now: now))
    }

    public func now() -> Int64 { state.withLockedValue { $0.now } }

    public func sleep(until deadline: Int64) async throws {
        let id = state.withLockedValue { state -> UInt64 in
            state.nextID += 1
            return state.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let (resumeNow, waiters) = state.withLockedValue { state -> (Bool, [CheckedContinuation<Void, Never>]) in
                    if deadline <= state.now { return (true, []) }
                    if Task.isCancelled { return (true, []) }
                    state.sleepers.append(Sleeper(id: id, deadline: deadline, continuation: continuation))
                    return (false, state.takeSatisfiedWaiters())
                }
                waiters.forEach { $0.resume() }
                if resumeNow {
                    if Task.isCancelled { continuation.resume(throwing: CancellationError()) } else { continuation.resume() }
                }
            }
        } onCancel: {
            let sleeper = state.withLockedValue { state -> Sleeper? in
                guard let index = state.sleepers.firstIndex(where: { $0.id == id }) else { return nil }
                return state.sleepers.remove(at: index)
            }
            sleeper?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Moves time forward and wakes every sleeper whose deadline has come.
    public func advance(to time: Int64) {
        let woken = state.withLockedValue { state -> [Sleeper] in
            state.now = max(state.now, time)
            let due = state.sleepers.filter { $0.deadline <= state.now }
            state.sleepers.removeAll { $0.deadline <= state.now }
            return due
        }
        woken.forEach { $0.continuation.resume() }
    }

    public func advance(by milliseconds: Int64) { advance(to: now() + milliseconds) }

    /// The earliest deadline anyone is sleeping until.
    public var nextDeadline: Int64? { state.withLockedValue { $0.sleepers.map(\.deadline).min() } }

    /// Returns once at least `count` tasks are asleep on this clock.
    public func waitForSleepers(_ count: Int = 1) async {
        await waitForSleepers(where: { $0.count >= count })
    }

    /// Returns once someone is asleep until exactly `deadline`.
    public func waitForSleeper(until deadline: Int64) async {
        await waitForSleepers(where: { $0.contains(deadline) })
    }

    /// Returns once the sleepers' deadlines satisfy `ready`.
    func waitForSleepers(where ready: @escaping @Sendable ([Int64]) -> Bool) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let isReady = state.withLockedValue { state -> Bool in
                if ready(state.sleepers.map(\.deadline)) { return true }
                state.waiters.append((ready, continuation))
                return false
            }
            if isReady { continuation.resume() }
        }
    }
}

extension ManualClock.State {
    mutating func takeSatisfiedWaiters() -> [CheckedContinuation<Void, Never>] {
        let deadlines = sleepers.map(\.deadline)
        let ready = waiters.filter { $0.ready(deadlines) }.map(\.continuation)
        waiters.removeAll { $0.ready(deadlines) }
        return ready
    }
}
