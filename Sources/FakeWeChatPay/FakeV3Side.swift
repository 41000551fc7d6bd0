import NIOConcurrencyHelpers
import WeChatPayV3

/// The fake's v3 configuration: its WeChat Pay identity (made on first use) and the v3 merchants it knows.
struct FakeV3Side {
    var identity: FakeV3Identity?
    var merchants: [String: FakeV3Merchant] = [:]
}

extension FakeWeChatPay {
    /// The fake's WeChat Pay key pair, public key id and platform certificate (generated once).
    public var v3Identity: FakeV3Identity {
        let nowSeconds = Int64(now())
        return v3.withLockedValue { side in
            if let identity = side.identity { return identity }
            let identity = FakeV3Identity.make(nowSeconds: nowSeconds)
            side.identity = identity
            return identity
        }
    }

    /// Gives the fake a WeChat Pay key of its own (the demo generates one at start); before any v3 call.
    public func setV3Identity(_ identity: FakeV3Identity) {
        v3.withLockedValue { $0.identity = identity }
    }

    /// Adds or replaces a v3 merchant.
    public func addV3Merchant(_ merchant: FakeV3Merchant) {
        v3.withLockedValue { $0.merchants[merchant.mchID] = merchant }
    }

    /// Answers one v3 request (`/v3/…`) as WeChat Pay would, applying any scripted fault. The
    /// answer carries its `Wechatpay-*` headers.
    public func handleV3(method: String, uri: String, authorization: String?, body: [UInt8]) -> Answer {
        let receivedAt = now()
        let identity = v3Identity
        let merchants = v3.withLockedValue { $0.merchants }
        let (answer, arrived) = state.withLockedValue { state -> (Answer, [CheckedContinuation<Void, Never>]) in
            var exchange = V3Exchange(unknownOrders: unknownOrders, receivedAt: receivedAt, uri: uri, identity: identity)
            let action = exchange.run(
                method: method, authorization: authorization, body: body, merchants: merchants, state: &state)
            state.calls.append(exchange.record())
            let delay = state.latency + (exchange.slow ? Self.slowAnswerDelay : .zero)
            return (Answer(action: action, delay: delay, gate: state.gate), state.takeArrivedWaiters())
        }
        arrived.forEach { $0.resume() }
        return answer
    }
}
