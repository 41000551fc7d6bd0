import GatewayVocabulary
import NIOConcurrencyHelpers
import OrderClosing

/// A `WeChatPayGateway` that answers from a script, records when each call came (on the injected
/// clock), and can hold a call open until it is cancelled, to test draining.
public final class ScriptedGateway: WeChatPayGateway {
    public enum CloseStep: Sendable {
        case answer(CloseOutcome, delivered: Bool = true, errCode: String? = nil)
        /// Never answers; returns a connection error once its task is cancelled.
        case hang
        /// Waits until the test calls `releaseHeld()`, then closes the order.
        case held
    }

    public struct Call: Sendable, Hashable {
        public let operation: AttemptRecord.Call
        public let outTradeNo: String
        public let at: Int64
    }

    struct State {
        var closeScripts: [String: [CloseStep]] = [:]
        var queryScripts: [String: [QueryOutcome]] = [:]
        var probeScripts: [String: [QueryOutcome]] = [:]
        var probes: [Probe] = []
        var calls: [Call] = []
        var waiters: [(count: Int, continuation: CheckedContinuation<Void, Never>)] = []
        var held: [CheckedContinuation<Void, Never>] = []
        var released = false
    }

    /// A setup probe (`probeMerchant`): also in `calls`, as an `orderQuery` of `Probe.callName(key)`.
    public struct Probe: Sendable, Hashable {
        public let key: CircuitKey
        public let appID: String
        public let at: Int64

        public static func callName(_ key: CircuitKey) -> String { "probe:\(key)" }
    }

    let clock: any OrderClock
    let state = NIOLockedValueBox(State())
    public let endpoint = "scripted://wechatpay"

    public init(clock: any OrderClock) {
        self.clock = clock
    }

    /// Queues answers to an order's next closes; unscripted closes answer `.closed`.
    public func scriptClose(_ outTradeNo: String, _ steps: [CloseStep]) {
        state.withLockedValue { $0.closeScripts[outTradeNo, default: []].append(contentsOf: steps) }
    }

    /// Queues answers to an order's next queries; unscripted queries answer NOTPAY.
    public func scriptQuery(_ outTradeNo: String, _ outcomes: [QueryOutcome]) {
        state.withLockedValue { $0.queryScripts[outTradeNo, default: []].append(contentsOf: outcomes) }
    }

    /// Queues answers to a merchant's next probes (any sub-merchant); unscripted probes answer a
    /// signed ORDERNOTEXIST, as WeChat does for a made-up order.
    public func scriptProbe(_ mchID: String, _ outcomes: [QueryOutcome]) {
        state.withLockedValue { $0.probeScripts[mchID, default: []].append(contentsOf: outcomes) }
    }

    public var calls: [Call] { state.withLockedValue { $0.calls } }

    public var probes: [Probe] { state.withLockedValue { $0.probes } }

    /// Lets every `.held` call (now and later) answer.
    public func releaseHeld() {
        let held = state.withLockedValue { state -> [CheckedContinuation<Void, Never>] in
            state.released = true
            defer { state.held.removeAll() }
            return state.held
        }
        held.forEach { $0.resume() }
    }

    /// Returns once at least `count` calls have been made.
    public func waitForCalls(_ count: Int) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ready = state.withLockedValue { state -> Bool in
                if state.calls.count >= count { return true }
                state.waiters.append((count, continuation))
                return false
            }
            if ready { continuation.resume() }
        }
    }

    public func closeOrder(_ order: OrderKey, merchant: any MerchantHandle) async -> GatewayResponse<CloseOutcome> {
        let step = record(.closeOrder, order.outTradeNo) { state in
            guard var queue = state.closeScripts[order.outTradeNo], !queue.isEmpty else { return CloseStep.answer(.closed) }
            let step = queue.removeFirst()
            state.closeScripts[order.outTradeNo] = queue
            return step
        }
        switch step {
        case .answer(let outcome, let delivered, let errCode):
            // Stands in for a signed answer, except where the outcome says it was not believed.
            var verified = true
            if case .retryable = outcome { verified = false }
            return GatewayResponse(
                outcome: outcome, summary: ResponseSummary(httpStatus: 200, errCode: errCode, verified: verified),
                endpoint: endpoint, delivered: delivered)
        case .held:
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let go = state.withLockedValue { state -> Bool in
                    if state.released { return true }
                    state.held.append(continuation)
                    return false
                }
                if go { continuation.resume() }
            }
            return GatewayResponse(outcome: .closed, summary: ResponseSummary(httpStatus: 200), endpoint: endpoint)
        case .hang:
            // Park until cancelled: the shape of a call that outlives the shutdown grace period.
            let (stream, continuation) = AsyncStream<Never>.makeStream()
            for await _ in stream {}
            withExtendedLifetime(continuation) {}
            return GatewayResponse(outcome: .retryable(.connection("cancelled")), summary: ResponseSummary(), endpoint: endpoint)
        }
    }

    public func queryOrder(_ order: OrderKey, merchant: any MerchantHandle) async -> GatewayResponse<QueryOutcome> {
        let outcome = record(.orderQuery, order.outTradeNo) { state in
            guard var queue = state.queryScripts[order.outTradeNo], !queue.isEmpty else {
                return QueryOutcome.state(.notPay, transactionID: nil)
            }
            let outcome = queue.removeFirst()
            state.queryScripts[order.outTradeNo] = queue
            return outcome
        }
        return GatewayResponse(outcome: outcome, summary: ResponseSummary(httpStatus: 200), endpoint: endpoint)
    }

    public func probeMerchant(_ probe: MerchantProbe, appID: String, merchant: any MerchantHandle) async -> GatewayResponse<
        QueryOutcome
    > {
        let now = clock.now()
        let outcome = record(.orderQuery, Probe.callName(probe.key)) { state in
            state.probes.append(Probe(key: probe.key, appID: appID, at: now))
            guard var queue = state.probeScripts[probe.key.mchID], !queue.isEmpty else { return QueryOutcome.notExist }
            let outcome = queue.removeFirst()
            state.probeScripts[probe.key.mchID] = queue
            return outcome
        }
        var verified = true
        if case .retryable = outcome { verified = false }
        return GatewayResponse(
            outcome: outcome, summary: ResponseSummary(httpStatus: 200, verified: verified), endpoint: endpoint)
    }

    private func record<T>(_ operation: AttemptRecord.Call, _ outTradeNo: String, _ pick: (inout State) -> T) -> T {
        let now = clock.now()
        let (value, ready) = state.withLockedValue { state -> (T, [CheckedContinuation<Void, Never>]) in
            let value = pick(&state)
            state.calls.append(Call(operation: operation, outTradeNo: outTradeNo, at: now))
            let ready = state.waiters.filter { $0.count <= state.calls.count }.map(\.continuation)
            state.waiters.removeAll { $0.count <= state.calls.count }
            return (value, ready)
        }
        ready.forEach { $0.resume() }
        return value
    }
}
