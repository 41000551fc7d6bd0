import GatewayVocabulary
import Logging
import Metrics

/// Works one claimed order through WeChat Pay: close, maybe query, and the decision.
/// It writes nothing itself; it returns the write for the batcher, and tells the circuit what it saw.
public struct OrderCloser: Sendable {
    let gateway: any WeChatPayGateway
    let clock: any OrderClock
    let directory: MerchantDirectory
    let retry: RetryPolicy
    let logger: Logger
    let jitter: @Sendable () -> Double

    /// - Parameter directory: shared with the loop; a reload replaces its merchants.
    public init(
        gateway: any WeChatPayGateway, clock: any OrderClock, directory: MerchantDirectory, retry: RetryPolicy,
        logger: Logger, jitter: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }
    ) {
        self.gateway = gateway
        self.clock = clock
        self.directory = directory
        self.retry = retry
        self.logger = logger
        self.jitter = jitter
    }

    public init(
        gateway: any WeChatPayGateway, clock: any OrderClock, merchants: [MerchantProfile], retry: RetryPolicy,
        logger: Logger, jitter: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }
    ) {
        self.init(
            gateway: gateway, clock: clock, directory: MerchantDirectory(profiles: merchants), retry: retry,
            logger: logger, jitter: jitter)
    }

    /// What one order's work produced: the write, what it says about the merchant's setup, and
    /// what the close call says about upstream load (for the adaptive concurrency limit).
    public struct Processed: Sendable {
        public let write: OrderWrite
        public let circuit: CircuitSignal
        public let load: ConcurrencyLimit.Sample
        /// Whether the close reached WeChat Pay (nil: no call made), for `OutageLog`.
        public var delivery: OutageLog.Seen? = nil
    }

    public func process(_ order: ClaimedOrder) async -> Processed {
        let reference: OrderKey
        let profile: MerchantProfile
        switch validate(order) {
        case .failure(let reason):
            logger.error(
                "order \(order.outTradeNo) (mch \(order.mchID)) cannot be served: \(reason)",
                metadata: metadata(order).merging(["reason": "\(reason)"]) { $1 })
            ClosingMetrics.failed(mchID: order.mchID)
            return Processed(
                write: OrderWrite(
                    order: order, change: .finish(.failed, outcome: nil, transactionID: nil, reason: reason.description),
                    attempts: []),
                circuit: .none, load: .ignored)
        case .success(let valid):
            (reference, profile) = valid
        }

        var attempts: [AttemptRecord] = []
        let started = clock.now()
        let close = await gateway.closeOrder(reference, merchant: profile.merchant)
        let finished = clock.now()
        attempts.append(
            AttemptRecord(
                call: .closeOrder, attempt: order.attempt, startedAt: started, finishedAt: finished,
                endpoint: close.endpoint, response: close.summary, outcome: AuditOutcome(close.outcome),
                error: AuditOutcome.words(close.outcome)))

        let change: OrderChange
        var signal = CircuitSignal.healthy
        switch CloseDecision.afterClose(
            order, outcome: close.outcome, delivered: close.delivered, now: finished,
            retry: retry, jitterUnit: jitter())
        {
        case .change(let decided):
            change = decided
            // No answer, or one not believed (unsigned 5xx, a bad signature), proves nothing about
            // the setup; a refusal of this order's parameters is evidence for the circuit to weigh.
            if !close.delivered {
                signal = .none
            } else if case .orderRejected = close.outcome {
                signal = .orderRefused(orderID: order.id, appID: order.appID)
            } else if case .retryable = close.outcome, !close.summary.verified {
                signal = .none
            }
        case .pauseMerchant(let reason):
            change = CloseDecision.paused(order, reason: reason, until: finished + MerchantCircuit.firstPauseMs)
            signal = .configurationError(reason)
        case .query(let because):
            let queryStarted = clock.now()
            let query = await gateway.queryOrder(reference, merchant: profile.merchant)
            let queryFinished = clock.now()
            attempts.append(
                AttemptRecord(
                    call: .orderQuery, attempt: order.attempt, startedAt: queryStarted,
                    finishedAt: queryFinished, endpoint: query.endpoint, response: query.summary,
                    outcome: AuditOutcome(query.outcome), error: AuditOutcome.words(query.outcome)))
            change = CloseDecision.afterQuery(
                order, because: because, query: query.outcome, now: queryFinished,
                retry: retry, jitterUnit: jitter())
            // INVALID_REQUEST (v3) the query did not settle stays a refusal of this order: evidence
            // for the circuit to weigh, as a v2 order-level FAIL is.
            if case .unconfirmed(.rejected) = close.outcome, !Self.settles(change) {
                signal = .orderRefused(orderID: order.id, appID: order.appID)
            }
            if case .contradiction(let text) = change {
                logger.error(
                    "WeChat contradicts itself about a payment: flagged for a person, not closed",
                    metadata: metadata(order).merging(["conflict": "\(text)"]) { $1 })
            } else if because == CloseDecision.orderPaid {
                logger.warning(
                    "WeChat says the order is paid: the merchant may have missed a payment notification",
                    metadata: metadata(order).merging(["transaction_id": "\(transactionID(of: change) ?? "unknown")"]) { $1 })
            }
        }
        logAttempt(order, close: close, change: change, latencyMs: finished - started)
        ClosingMetrics.attempt(
            outcome: AuditOutcome(close.outcome).rawValue, mchID: order.mchID, endpoint: close.endpoint,
            latencyMs: finished - started)
        switch change {
        case .finish(.failed, _, _, _), .contradiction: ClosingMetrics.failed(mchID: order.mchID)
        default: break
        }
        let delivery: OutageLog.Seen =
            close.delivered
            ? .delivered : .notDelivered(orderID: order.id, cause: AuditOutcome.words(close.outcome) ?? "\(close.outcome)")
        return Processed(
            write: OrderWrite(order: order, change: change, attempts: attempts), circuit: signal,
            load: Self.load(close, latencyMs: finished - started), delivery: delivery)
    }

    /// Asks the probe's question (an order query for a made-up order) and says what the answer
    /// proves about the merchant's setup (`MerchantProbe`'s table). One log line per probe.
    public func probe(_ probe: MerchantProbe) async -> MerchantProbe.Verdict {
        guard let profile = directory.current.profiles[probe.key.mchID] else {
            return .inconclusive("mch_id \(probe.key.mchID) is no longer configured")
        }
        guard let appID = probe.appID.flatMap({ profile.appIDs.contains($0) ? $0 : nil }) ?? profile.appIDs.sorted().first else {
            return .inconclusive("no appid is configured for mch_id \(probe.key.mchID)")
        }
        let started = clock.now()
        let answer = await gateway.probeMerchant(probe, appID: appID, merchant: profile.merchant)
        let latencyMs = clock.now() - started
        let verdict = MerchantProbe.verdict(answer.outcome)
        var fields: Logger.Metadata = [
            "mch_id": "\(probe.key.mchID)", "appid": "\(appID)", "probe": "\(verdict)",
            "latency_ms": .stringConvertible(latencyMs),
        ]
        if let sub = probe.key.subMchID { fields["sub_mch_id"] = "\(sub)" }
        if let endpoint = answer.endpoint { fields["endpoint"] = "\(endpoint)" }
        if let errCode = answer.summary.errCode, !errCode.isEmpty { fields["err_code"] = "\(errCode)" }
        switch verdict {
        case .proven(let why):
            logger.notice(
                "merchant \(probe.key): setup proven (\(why)); its refused orders are their own and pause nobody",
                metadata: fields)
        case .refused(let why):
            logger.warning("merchant \(probe.key): a query for a made-up order was refused too: \(why)", metadata: fields)
        case .inconclusive(let why):
            logger.warning(
                "merchant \(probe.key): setup probe gave no verdict (\(why)); asked again later, nothing paused", metadata: fields
            )
        }
        return verdict
    }

    /// Pushback (FREQUENCY_LIMITED, 429, 5xx, timeouts) shrinks the limit; an answer's latency
    /// feeds its growth; an outage says nothing about load.
    static func load(_ close: GatewayResponse<CloseOutcome>, latencyMs: Int64) -> ConcurrencyLimit.Sample {
        guard close.delivered else { return .ignored }
        if case .retryable(let reason) = close.outcome {
            switch reason {
            case .frequencyLimited, .timeout: return .pushback
            case .httpStatus(let status) where status == 429 || status >= 500: return .pushback
            default: return .ignored
            }
        }
        return .success(latencyMs: latencyMs)
    }

    func validate(_ order: ClaimedOrder) -> Result<(OrderKey, MerchantProfile), PolicyError> {
        guard let profile = directory.current.profiles[order.mchID] else {
            return .failure(PolicyError("no API key is configured for mch_id \(order.mchID)"))
        }
        guard profile.appIDs.contains(order.appID) else {
            return .failure(PolicyError("appid \(order.appID) is not configured for mch_id \(order.mchID)"))
        }
        let key = OrderKey(
            appID: order.appID, mchID: order.mchID, outTradeNo: order.outTradeNo,
            subMchID: order.subMchID, subAppID: order.subAppID)
        if let refusal = profile.merchant.refusal(of: key) {
            return .failure(PolicyError("the row cannot be sent on \(profile.api): \(refusal)"))
        }
        return .success((key, profile))
    }

    /// One line per attempt: a sentence for people (the journal's MESSAGE), the facts as fields.
    func logAttempt(_ order: ClaimedOrder, close: GatewayResponse<CloseOutcome>, change: OrderChange, latencyMs: Int64) {
        // Success lines are info, the rest warning or error: skip building them when filtered out.
        guard logger.logLevel <= .error else { return }
        if case .finish(let status, _, _, _) = change, status != .failed, logger.logLevel > .info { return }
        // Waiting out an outage: the loop's `OutageLog` says so once; each order's wait is debug.
        let outage = !close.delivered
        if case .retry = change, logger.logLevel > (outage ? .debug : .warning) { return }
        var fields = metadata(order)
        fields["attempt"] = .stringConvertible(order.attempt)
        fields["outcome"] = "\(AuditOutcome(close.outcome).rawValue)"
        if let errCode = close.summary.errCode, !errCode.isEmpty { fields["err_code"] = "\(errCode)" }
        if let endpoint = close.endpoint { fields["endpoint"] = "\(endpoint)" }
        fields["latency_ms"] = .stringConvertible(latencyMs)
        let subject = "close \(order.outTradeNo) (mch \(order.mchID)) attempt \(order.attempt)"
        switch change {
        case .finish(let status, let outcome, _, let reason):
            fields["status"] = "\(status.rawValue)"
            if let reason { fields["reason"] = "\(reason)" }
            if status == .failed {
                logger.error("\(subject): failed after \(close.outcome): \(reason ?? "no reason")", metadata: fields)
            } else {
                logger.info("\(subject): \(outcome ?? status.rawValue) in \(latencyMs) ms", metadata: fields)
            }
        case .retry(let at, let reason, let inDoubt, _):
            fields["status"] = "pending"
            fields["next_retry"] = "\(TimeText.iso8601(at))"
            fields["reason"] = "\(reason)"
            if inDoubt { fields["in_doubt"] = "true" }
            let doubt = inDoubt ? " (in doubt: WeChat may have acted)" : ""
            logger.log(
                level: outage ? .debug : .warning,
                "\(subject): \(reason)\(doubt); retry \(TimeText.relative(at, now: clock.now()))", metadata: fields)
        case .contradiction(let text):
            fields["status"] = "failed"
            fields["conflict"] = "\(text)"
            logger.error("\(subject): flagged for a person: \(text)", metadata: fields)
        }
    }

    func metadata(_ order: ClaimedOrder) -> Logger.Metadata {
        ["out_trade_no": "\(order.outTradeNo)", "mch_id": "\(order.mchID)"]
    }

    /// Whether the change ends the order as `closed` or `paid`: the query found WeChat's verdict.
    static func settles(_ change: OrderChange) -> Bool {
        if case .finish(let status, _, _, _) = change { return status != .failed }
        return false
    }

    func transactionID(of change: OrderChange) -> String? {
        if case .finish(_, _, let transactionID, _) = change { return transactionID }
        return nil
    }
}
