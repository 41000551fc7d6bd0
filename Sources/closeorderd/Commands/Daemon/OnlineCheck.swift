import Logging
import OrderClosing
import WeChatPayHTTP
import WeChatPayV2

/// `check-config --online`: asks WeChat Pay (or the fake) about a made-up order for each merchant
/// (`MerchantProbe`, the question the daemon's circuit asks when refusals look merchant-wide).
/// An order query changes nothing at WeChat, and its answer tells whether the key is right:
///
/// | answer to the made-up order            | verdict                                      |
/// |----------------------------------------|----------------------------------------------|
/// | ORDERNOTEXIST (signed; v3: ORDER_NOT_EXIST) | ok: WeChat accepted the signature       |
/// | any other signed answer                | ok, with the answer named                    |
/// | a signature error (签名错误, SIGNERROR) | wrong key or sign type                       |
/// | another setup or parameter error       | the merchant's setup, named                  |
/// | no answer, or one not believed         | WeChat not reached (or not trusted): named   |
struct OnlineCheck {
    let settings: GatewaySettings

    func run(_ profiles: [MerchantProfile]) async throws -> [(mchID: String, ok: Bool, verdict: String)] {
        let http = try WeChatPayHTTPClient(
            settings: settings, clock: SystemOrderClock(), logger: Logger(label: "check-config"))
        // v3 merchants are asked on API v3 (a platform-certificate merchant first fetches /v3/certificates).
        let gateway = RoutingGateway(transport: http.transport)
        var results: [(String, Bool, String)] = []
        for profile in profiles.sorted(by: { $0.mchID < $1.mchID }) {
            guard let appID = profile.appIDs.sorted().first else { continue }
            // The daemon's circuit asks the same question (`MerchantProbe`).
            let probe = MerchantProbe(key: CircuitKey(mchID: profile.mchID, subMchID: nil), appID: appID)
            let answer = await gateway.probeMerchant(probe, appID: appID, merchant: profile.merchant)
            results.append(Self.verdict(profile.mchID, answer.outcome, endpoint: answer.endpoint))
        }
        try await http.shutdown()
        return results
    }

    static func verdict(_ mchID: String, _ outcome: QueryOutcome, endpoint: String?) -> (String, Bool, String) {
        let at = endpoint.map { " at \($0)" } ?? ""
        switch outcome {
        case .notExist:
            return (mchID, true, "key works: WeChat Pay\(at) answered ORDERNOTEXIST for a made-up order")
        case .state(let state, _):
            return (mchID, true, "key works: WeChat Pay\(at) answered trade_state \(state.rawValue) for a made-up order")
        case .configurationError(let reason):
            return (
                mchID, false,
                reason.kind == .signature
                    ? "the key or sign type is wrong: WeChat Pay\(at) refused the signature (\(reason))"
                    : "the merchant's setup is refused\(at): \(reason)"
            )
        case .orderRejected(let reason), .unknownCode(let reason):
            return (mchID, false, "unexpected answer\(at): \(reason)")
        case .retryable(let reason):
            return (mchID, false, "could not check\(at): \(reason)")
        }
    }
}
