import NIOConcurrencyHelpers
import WeChatPayV2

/// The fake's brain: WeChat Pay's rules for `pay/closeorder` and `pay/orderquery`, the orders it
/// knows, scripted faults, and a record of every call. Transport-free, so it is tested directly and
/// served by `FakeWeChatPayServer`.
public final class FakeWeChatPay: Sendable {
    /// WeChat forbids closing an order younger than this; a close that comes sooner is a violation.
    public static let minimumCloseAge: Double = 300
    /// How long a `.slowAnswer` is held back.
    public static let slowAnswerDelay: Duration = .seconds(30)

    struct OrderKey: Hashable {
        let mchID: String
        let outTradeNo: String
    }
    struct Order {
        var state: FakeOrderState
        let createdAt: Double?
        var transactionID: String?
    }

    struct State {
        var merchants: [String: FakeMerchant]
        var orders: [OrderKey: Order] = [:]
        var scripts: [OrderKey: [FakeFault]] = [:]
        var faultRate: Double = 0
        var rateFaults: [FakeFault] = []
        /// Set by `setRateLimit`: calls above it are answered FREQUENCY_LIMITED.
        var rateLimit: FakeRateLimit?
        var latency: Duration = .zero
        /// Set while answers are held (`holdAnswers()`).
        var gate: FakeGate?
        var calls: [FakeCall] = []
        var violations: [String] = []
        var random: SplitMix64
        /// Draws the answers' `nonce_str`: a seeded generator, as no fake answer needs a secret
        /// nonce and the system CSPRNG costs a syscall per answer.
        var nonces: SplitMix64
        var transactionCounter = 0
        /// Tests parked in `waitForCalls`, each until the fake has recorded `count` calls.
        var callWaiters: [(count: Int, continuation: CheckedContinuation<Void, Never>)] = []
    }

    let state: NIOLockedValueBox<State>
    /// The v3 side: identity and merchants (`FakeV3Side.swift`).
    let v3 = NIOLockedValueBox(FakeV3Side())
    let unknownOrders: UnknownOrderPolicy
    let now: @Sendable () -> Double

    /// - Parameters:
    ///   - now: unix seconds; tests pass a controlled clock, used to judge early closes.
    ///   - seed: seeds the choice of rate faults, so a run can be repeated.
    public init(
        merchants: [FakeMerchant], unknownOrders: UnknownOrderPolicy = .notExist, seed: UInt64 = 42,
        now: @escaping @Sendable () -> Double
    ) {
        self.state = NIOLockedValueBox(
            State(
                merchants: Dictionary(merchants.map { ($0.mchID, $0) }, uniquingKeysWith: { $1 }),
                random: SplitMix64(seed: seed), nonces: SplitMix64(seed: UInt64.random(in: .min ... .max))))
        self.unknownOrders = unknownOrders
        self.now = now
    }

    // MARK: Setting the scene

    /// Tells the fake about an order the merchant placed at `createdAt` (unix seconds).
    public func addOrder(mchID: String, outTradeNo: String, createdAt: Double, state orderState: FakeOrderState = .notPay) {
        state.withLockedValue { state in
            let transactionID = orderState == .paid ? state.nextTransactionID() : nil
            state.orders[OrderKey(mchID: mchID, outTradeNo: outTradeNo)] = Order(
                state: orderState, createdAt: createdAt, transactionID: transactionID)
        }
    }

    /// The customer pays: the order becomes paid unless it was closed. Returns the transaction id.
    @discardableResult
    public func pay(mchID: String, outTradeNo: String) -> String? {
        state.withLockedValue { state in
            let key = OrderKey(mchID: mchID, outTradeNo: outTradeNo)
            guard var order = state.orders[key], order.state == .notPay else { return nil }
            order.state = .paid
            order.transactionID = state.nextTransactionID()
            state.orders[key] = order
            return order.transactionID
        }
    }

    public func orderState(mchID: String, outTradeNo: String) -> FakeOrderState? {
        state.withLockedValue { $0.orders[OrderKey(mchID: mchID, outTradeNo: outTradeNo)]?.state }
    }

    public func transactionID(mchID: String, outTradeNo: String) -> String? {
        state.withLockedValue { $0.orders[OrderKey(mchID: mchID, outTradeNo: outTradeNo)]?.transactionID }
    }

    /// Queues faults for an order's next calls, one per call, before the real rules apply again.
    public func script(mchID: String, outTradeNo: String, _ faults: [FakeFault]) {
        state.withLockedValue {
            $0.scripts[OrderKey(mchID: mchID, outTradeNo: outTradeNo), default: []].append(contentsOf: faults)
        }
    }

    /// Answers a share `rate` (0…1) of unscripted calls with one of `faults`, chosen at random.
    public func setFaultRate(_ rate: Double, faults: [FakeFault]) {
        state.withLockedValue {
            $0.faultRate = rate
            $0.rateFaults = faults
        }
    }

    /// Answers FREQUENCY_LIMITED (signed, not acted on) to every call above `perSecond`, counted
    /// over all merchants with a token bucket of `burst` calls (see `FakeRateLimit`); nil lifts it.
    public func setRateLimit(perSecond: Double?, burst: Double? = nil) {
        state.withLockedValue { $0.rateLimit = perSecond.map { FakeRateLimit(perSecond: $0, burst: burst) } }
    }

    /// Added to every answer, without holding a thread.
    public var latency: Duration {
        get { state.withLockedValue { $0.latency } }
        set { state.withLockedValue { $0.latency = newValue } }
    }

    /// Holds every answer from now on (the request is still acted on and recorded at once) until
    /// `releaseAnswers()`: a test puts calls in flight and keeps them there while it looks.
    public func holdAnswers() {
        state.withLockedValue { if $0.gate == nil { $0.gate = FakeGate() } }
    }

    /// Sends the held answers (after any latency they were given) and stops holding new ones.
    public func releaseAnswers() {
        state.withLockedValue { state -> FakeGate? in
            defer { state.gate = nil }
            return state.gate
        }?.open()
    }

    /// Replaces a merchant's key, as an operator rotating keys would.
    public func setMerchant(_ merchant: FakeMerchant) {
        state.withLockedValue { $0.merchants[merchant.mchID] = merchant }
    }

    // MARK: Assertions

    public var calls: [FakeCall] { state.withLockedValue { $0.calls } }

    /// Returns once the fake has received (and acted on) at least `count` calls in all: lets a test
    /// wait for a request to arrive instead of assuming it arrived within some time.
    public func waitForCalls(_ count: Int) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let arrived = state.withLockedValue { state -> Bool in
                if state.calls.count >= count { return true }
                state.callWaiters.append((count, continuation))
                return false
            }
            if arrived { continuation.resume() }
        }
    }

    /// Every close that reached the fake before the order was 5 minutes old.
    public var violations: [String] { state.withLockedValue { $0.violations } }

    // MARK: Serving

    /// What the server should do with one request.
    public struct Answer: Sendable {
        public enum Action: Sendable {
            case respond(status: Int, body: [UInt8]), reset
            /// A v3 answer: JSON (or empty) with its `Wechatpay-*` headers.
            case respondV3(status: Int, headers: [String: String], body: [UInt8])
        }
        public let action: Action
        public let delay: Duration
        /// When set, the answer also waits for this gate to open.
        public let gate: FakeGate?
    }

    /// Answers one HTTP request as WeChat Pay would, applying any scripted fault.
    public func handle(method: String, path: String, body: [UInt8]) -> Answer {
        let receivedAt = now()
        let (answer, arrived) = state.withLockedValue { state -> (Answer, [CheckedContinuation<Void, Never>]) in
            var exchange = V2Exchange(unknownOrders: unknownOrders, receivedAt: receivedAt, path: path)
            let action = exchange.run(method: method, body: body, state: &state)
            state.calls.append(exchange.record(answer: exchange.answerLabel))
            let delay = state.latency + (exchange.slow ? Self.slowAnswerDelay : .zero)
            return (Answer(action: action, delay: delay, gate: state.gate), state.takeArrivedWaiters())
        }
        arrived.forEach { $0.resume() }
        return answer
    }
}

extension FakeWeChatPay.State {
    /// The waiters whose count of calls has been reached (none, and no allocation, in a benchmark).
    mutating func takeArrivedWaiters() -> [CheckedContinuation<Void, Never>] {
        guard !callWaiters.isEmpty else { return [] }
        let total = calls.count
        let arrived = callWaiters.filter { $0.count <= total }.map(\.continuation)
        callWaiters.removeAll { $0.count <= total }
        return arrived
    }

    mutating func nextTransactionID() -> String {
        transactionCounter += 1
        let digits = String(transactionCounter)
        return "42000" + String(repeating: "0", count: max(0, 23 - digits.count)) + digits
    }
}

/// A small, fast, seedable generator for the fake's rate faults and for repeatable tests (not for secrets).
public struct SplitMix64: RandomNumberGenerator, Sendable {
    var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
