import GatewayVocabulary

/// A question whose answer proves or refutes a merchant's setup without touching an order: an
/// order query for a made-up `out_trade_no`. `check-config --online` asks it of every merchant;
/// the daemon asks it when refusals look merchant-wide (`MerchantCircuit`) and when a pause ends.
///
/// The made-up order carries only the merchant's own ids (mch_id, appid, and in service-provider
/// mode sub_mch_id), so its answer is about them, never about one order's parameters:
///
/// | answer to the made-up order                              | verdict      | the circuit            |
/// |----------------------------------------------------------|--------------|------------------------|
/// | signed ORDERNOTEXIST (v3: signed 404 ORDER_NOT_EXIST)    | proven       | refusals stay the orders' own |
/// | signed trade_state naming the made-up order              | proven       | as above               |
/// | a configuration error (签名错误, SIGNERROR, SIGN_ERROR, NO_AUTH, …) | refused | pause       |
/// | a refusal of the made-up order's ids (return_code FAIL, PARAM_ERROR, …) | refused | pause   |
/// | an answer whose signature does not verify                | refused      | pause                  |
/// | no answer, 5xx, 429, SYSTEMERROR, unparseable, unknown code | no verdict | ask again later; never pause |
public struct MerchantProbe: Sendable, Hashable {
    /// The circuit asked about: the merchant, or the sub-merchant in service-provider mode.
    public let key: CircuitKey
    /// The appid of the orders that raised the question; nil: the merchant's first configured appid.
    public let appID: String?

    public init(key: CircuitKey, appID: String?) {
        self.key = key
        self.appID = appID
    }

    public enum Verdict: Sendable, Hashable, CustomStringConvertible {
        /// A signed answer about the made-up order: key, mch_id and appid work.
        case proven(String)
        /// The setup itself is refused: the merchant's orders cannot succeed.
        case refused(String)
        /// Nothing learnt (WeChat unreachable, busy, or an answer not understood).
        case inconclusive(String)

        public var description: String {
            switch self {
            case .proven(let why): "setup proven: \(why)"
            case .refused(let why): "setup refused: \(why)"
            case .inconclusive(let why): "no verdict: \(why)"
            }
        }
    }

    /// The table above, from the query's typed outcome.
    public static func verdict(_ outcome: QueryOutcome) -> Verdict {
        switch outcome {
        case .notExist:
            .proven("WeChat Pay answered ORDERNOTEXIST (signed) for a made-up order")
        case .state(let state, _):
            .proven("WeChat Pay answered trade_state \(state.rawValue) (signed) for a made-up order")
        case .configurationError(let fault):
            .refused(fault.reason)
        case .orderRejected(let reason):
            .refused("a made-up order with only the merchant's ids was refused: \(reason)")
        case .retryable(.badSignature(let reason)):
            .refused("the answer's signature does not verify (wrong key, or WeChat Pay's public key or certificate): \(reason)")
        case .retryable(let reason):
            .inconclusive("\(reason)")
        case .unknownCode(let code):
            .inconclusive("unknown err_code \(code)")
        }
    }

    /// A made-up `out_trade_no`: "CHECK" and 24 random letters and digits, valid on API v2 and v3
    /// and never a real order's.
    public static func madeUpNumber() -> String {
        let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
        return "CHECK" + String((0..<24).map { _ in alphabet.randomElement()! })
    }

    /// The made-up order for `appID` (no sub_appid: it is not part of the setup).
    public func madeUpOrder(appID: String, number: String) -> OrderKey {
        OrderKey(appID: appID, mchID: key.mchID, outTradeNo: number, subMchID: key.subMchID, subAppID: nil)
    }
}
