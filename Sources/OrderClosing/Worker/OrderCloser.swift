import Logging
import Metrics
import WeChatPayV2

/// Works one claimed order through WeChat Pay: close, maybe query, and the decision.
/// It writes nothing itself; it returns the write for the batcher, and tells the circuit what it saw.
public struct OrderCloser: Sendable {
    public enum CircuitSignal: Sendable, Hashable { case healthy, configurationError(String), none }

    let gateway: any WeChatPayGateway
    let clock: any OrderClock
    let merchants: [String: MerchantProfile]
    let retry: RetryPolicy
    let logger: Logger
    let jitter: @Sendable () -> Double

    public init(gateway: any WeChatPayGateway, clock: any OrderClock, merchants: [MerchantProfile], retry: RetryPolicy,
                logger: Logger, jitter: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }) {
        self.gateway = gateway
        self.clock = clock
        self.merchants = Dictionary(merchants.map { ($0.mchID, $0) }, uniquingKeysWith: { $1 })
        self.retry = retry
        self.logger = logger
        self.jitter = jitter
    }

    public func process(_ order: ClaimedOrder) async -> (OrderWrite, CircuitSignal) {
        let reference: OrderReference
        let profile: MerchantProfile
        switch validate(order) {
        case .failure(let reason):
            logger.error("order cannot be served", metadata: metadata(order).merging(["reason": "\(reason)"]) { $1 })
            return (OrderWrite(order: order, change: .finish(.failed, outcome: nil, transactionID: nil, reason: reason.description), attempts: []), .none)
        case .success(let valid):
            (reference, profile) = valid
        }

        var attempts: [AttemptRecord] = []
        let started = clock.now()
        let close = await gateway.closeOrder(reference, credentials: profile.credentials)
        let finished = clock.now()
        attempts.append(AttemptRecord(call: .closeOrder, attempt: order.attempt, startedAt: started, finishedAt: finished,
                                      endpoint: close.endpoint, response: close.summary, outcome: close.outcome.label,
                                      error: errorText(close.outcome)))

        let change: OrderChange
        var signal = CircuitSignal.healthy
        switch CloseDecision.afterClose(order, outcome: close.outcome, delivered: close.delivered, now: finished,
                                        retry: retry, jitterUnit: jitter()) {
        case .change(let decided):
            change = decided
            if !close.delivered { signal = .none }
        case .pauseMerchant(let reason):
            change = CloseDecision.paused(order, reason: reason, until: finished + MerchantCircuit.firstPauseMs)
            signal = .configurationError(reason)
        case .query(let because):
            let queryStarted = clock.now()
            let query = await gateway.queryOrder(reference, credentials: profile.credentials)
            let queryFinished = clock.now()
            attempts.append(AttemptRecord(call: .orderQuery, attempt: order.attempt, startedAt: queryStarted,
                                          finishedAt: queryFinished, endpoint: query.endpoint, response: query.summary,
                                          outcome: queryLabel(query.outcome), error: nil))
            change = CloseDecision.afterQuery(order, because: because, query: query.outcome, now: queryFinished,
                                              retry: retry, jitterUnit: jitter())
            if because == "ORDERPAID" {
                logger.warning("WeChat says the order is paid: the merchant may have missed a payment notification",
                               metadata: metadata(order).merging(["transaction_id": "\(transactionID(of: change) ?? "unknown")"]) { $1 })
            }
        }
        logAttempt(order, close: close, change: change, latencyMs: finished - started)
        ClosingMetrics.attempt(outcome: close.outcome.label, endpoint: close.endpoint, latencyMs: finished - started)
        return (OrderWrite(order: order, change: change, attempts: attempts), signal)
    }

    func validate(_ order: ClaimedOrder) -> Result<(OrderReference, MerchantProfile), PolicyError> {
        guard let profile = merchants[order.mchID] else {
            return .failure(PolicyError("no API key is configured for mch_id \(order.mchID)"))
        }
        guard profile.appIDs.contains(order.appID) else {
            return .failure(PolicyError("appid \(order.appID) is not configured for mch_id \(order.mchID)"))
        }
        do {
            let reference = try OrderReference(appID: order.appID, mchID: order.mchID, outTradeNo: order.outTradeNo,
                                               subMchID: order.subMchID, subAppID: order.subAppID)
            return .success((reference, profile))
        } catch {
            return .failure(PolicyError("the row cannot be sent: \(error.message)"))
        }
    }

    func logAttempt(_ order: ClaimedOrder, close: GatewayResponse<CloseOutcome>, change: OrderChange, latencyMs: Int64) {
        // Success lines are info, the rest warning or error: skip building them when filtered out.
        guard logger.logLevel <= .error else { return }
        if case .finish(let status, _, _, _) = change, status != .failed, logger.logLevel > .info { return }
        if case .retry = change, logger.logLevel > .warning { return }
        var fields = metadata(order)
        fields["attempt"] = "\(order.attempt)"
        fields["outcome"] = "\(close.outcome.label)"
        fields["err_code"] = "\(close.summary.errCode ?? "")"
        fields["endpoint"] = "\(close.endpoint ?? "none")"
        fields["latency_ms"] = "\(latencyMs)"
        switch change {
        case .finish(let status, _, _, let reason):
            fields["status"] = "\(status.rawValue)"
            if let reason { fields["reason"] = "\(reason)" }
            logger.log(level: status == .failed ? .error : .info, "close attempt", metadata: fields)
        case .retry(let at, let reason, let inDoubt, _):
            fields["status"] = "pending"
            fields["next_retry_ms"] = "\(at)"
            fields["reason"] = "\(reason)"
            if inDoubt { fields["in_doubt"] = "true" }
            logger.warning("close attempt", metadata: fields)
        }
    }

    func metadata(_ order: ClaimedOrder) -> Logger.Metadata {
        ["out_trade_no": "\(order.outTradeNo)", "mch_id": "\(order.mchID)"]
    }

    func errorText(_ outcome: CloseOutcome) -> String? {
        switch outcome {
        case .retryable, .configurationError, .orderRejected, .unknownCode: outcome.description
        default: nil
        }
    }

    func queryLabel(_ outcome: QueryOutcome) -> String {
        if case .state(let state, _) = outcome { return "trade_state:\(state.rawValue)" }
        return outcome.description
    }

    func transactionID(of change: OrderChange) -> String? {
        if case .finish(_, _, let transactionID, _) = change { return transactionID }
        return nil
    }
}
