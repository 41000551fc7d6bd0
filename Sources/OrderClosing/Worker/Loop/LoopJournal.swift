import Logging

/// What the closing loop says in the journal and the metrics, and what it shows in `status`
/// (`daemon_state` rows): the words for `LoopReport`s, database outages and lost
/// compare-and-sets. No decisions here: `ClosingLoopMachine` decides what is said.
struct LoopJournal {
    let logger: Logger
    /// This daemon's name in the published rows.
    let owner: String
    /// How long orders wait between tries in a WeChat Pay outage, for its line.
    let outageDelayMs: Int64

    /// Says `report`; returns the `daemon_state` row to publish, if it has one.
    func tell(_ report: LoopReport, now: Int64) -> (key: String, value: String)? {
        switch report {
        case .unavailable(let mchID, let reason):
            logger.error(
                "merchant \(mchID) cannot be served and is paused: \(reason); its orders wait, the other merchants are served",
                metadata: ["mch_id": "\(mchID)", "circuit": "unavailable", "reason": "\(reason)"])
            ClosingMetrics.circuit(mchID: mchID, open: true)
            return ("circuit:\(mchID)", PublishedCircuit(state: .paused, reason: reason, owner: owner).encoded)
        case .circuitEnded(let mchID):
            ClosingMetrics.circuit(mchID: mchID, open: false)
            return ("circuit:\(mchID)", PublishedCircuit(state: .closed, owner: owner).encoded)
        case .circuit(let change, let publish):
            let row = circuit(change, now: now)
            return publish ? row : nil
        case .operatorPauses(let paused, let resumed):
            for (mchID, reason) in paused.sorted(by: { $0.key < $1.key }) {
                logger.warning(
                    "merchant \(mchID) paused by an operator: \(reason); its orders wait",
                    metadata: ["mch_id": "\(mchID)", "reason": "\(reason)"])
            }
            for mchID in resumed {
                logger.notice("merchant \(mchID) resumed by an operator", metadata: ["mch_id": "\(mchID)"])
            }
        case .leaseRanShort(let orders, let limit):
            logger.notice(
                "\(orders) claimed order(s) waited for a free slot until their lease could not cover an attempt; given back, to be claimed again",
                metadata: ["orders": "\(orders)", "limit": "\(limit)"])
        case .concurrencyLimit(let limit):
            ClosingMetrics.concurrencyLimit(limit)
        case .outage(.started(let cause)):
            logger.error(
                "WeChat Pay unreachable, calls not delivered: \(cause); orders wait \(TimeText.duration(outageDelayMs)) between tries until it answers",
                metadata: ["outage": "started", "cause": "\(cause)"])
        case .outage(.ended(let lastedMs, let waited)):
            logger.notice(
                "WeChat Pay reachable again after \(TimeText.duration(lastedMs)); \(waited) order(s) waited out the outage",
                metadata: ["outage": "ended", "lasted_ms": "\(lastedMs)", "orders_waited": "\(waited)"])
        case .stopping(let inFlight):
            logger.info("stopping: no new claims; draining in-flight calls", metadata: ["in_flight": "\(inFlight)"])
        }
        return nil
    }

    /// Logs a circuit's change; returns what `status` shows for it.
    private func circuit(_ change: MerchantGate.Change, now: Int64) -> (key: String, value: String) {
        switch change {
        case .opened(let key, let until, let reason):
            logger.error(
                "merchant \(key) paused until \(TimeText.both(until, now: now)): \(reason)",
                metadata: [
                    "mch_id": "\(key.mchID)", "circuit": "open", "reason": "\(reason)",
                    "until": "\(TimeText.iso8601(until))",
                ].merging(key.subMchID.map { ["sub_mch_id": "\($0)"] } ?? [:]) { $1 })
            ClosingMetrics.circuit(mchID: key.description, open: true)
            return ("circuit:\(key)", PublishedCircuit(state: .open, untilMs: until, reason: reason, owner: owner).encoded)
        case .halfOpen(let key):
            logger.notice(
                "merchant \(key) pause over: probing its setup with a query for a made-up order",
                metadata: ["mch_id": "\(key.mchID)", "circuit": "half_open"])
            return ("circuit:\(key)", PublishedCircuit(state: .halfOpen, owner: owner).encoded)
        case .closed(let key):
            logger.notice(
                "merchant \(key) answers healthily again: resumed", metadata: ["mch_id": "\(key.mchID)", "circuit": "closed"])
            ClosingMetrics.circuit(mchID: key.description, open: false)
            return ("circuit:\(key)", PublishedCircuit(state: .closed, owner: owner).encoded)
        }
    }

    /// The first refusal of a database outage (the rest are counted, not logged).
    func databaseRefused(_ what: String, _ error: any Error, queuedOutcomes: Int) {
        logger.error(
            "database error while trying to \(what): \(error); work waits and resumes when it clears",
            metadata: ["while": "\(what)", "error": "\(error)", "queued_outcomes": "\(queuedOutcomes)"])
    }

    func databaseBack(afterFailures failures: Int, queuedOutcomes: Int) {
        logger.notice(
            "database usable again after \(failures) failed tries; \(queuedOutcomes) outcome(s) queued meanwhile",
            metadata: ["after_failures": "\(failures)", "queued_outcomes": "\(queuedOutcomes)"])
    }

    func graceOver(inFlight: Int) {
        logger.warning("grace period over: cancelling in-flight calls", metadata: ["in_flight": "\(inFlight)"])
    }

    func stopped(unrecorded: Int) {
        if unrecorded > 0 {
            logger.error(
                "could not record every outcome before exiting; those orders will be rescued as in doubt",
                metadata: ["unrecorded": "\(unrecorded)"])
        }
        logger.info("closing service stopped")
    }

    /// A write that lost its compare-and-set, said as what happened (`OrderWrite.lostCompareAndSet`):
    /// the merchant's `paid` raced the close, or another daemon's rescue took the lease.
    func conflict(_ write: OrderWrite, _ result: WriteResult) {
        let current: OrderStatus?
        let lostToRescue: Bool
        switch result {
        case .applied: return
        case .conflict(let now): (current, lostToRescue) = (now, false)
        case .leaseLost(let now): (current, lostToRescue) = (now, true)
        }
        var metadata: Logger.Metadata = [
            "out_trade_no": "\(write.order.outTradeNo)", "mch_id": "\(write.order.mchID)",
            "status": "\(current?.rawValue ?? "missing")",
        ]
        if case .finish(_, let outcome?, _, _) = write.change { metadata["outcome"] = "\(outcome)" }
        if case .contradiction(let text) = write.change {
            metadata["conflict"] = "\(text)"
            logger.error(
                lostToRescue
                    ? "WeChat contradicts itself about a payment, but the lease had expired and another daemon's rescue took the order; it asks WeChat again"
                    : "conflict: WeChat contradicts itself about a payment and the merchant marked the order paid meanwhile",
                metadata: metadata)
        } else if lostToRescue {
            logger.notice(
                "the lease expired before this outcome was recorded and another daemon's rescue took the order (now \(current?.rawValue ?? "deleted")); the answer is kept in the audit only",
                metadata: metadata)
        } else if case .finish(.closed, _, _, _) = write.change {
            logger.error("conflict: the merchant marked the order paid while WeChat closed it", metadata: metadata)
        } else {
            logger.notice(
                "the merchant marked the order paid while its close was in flight; the merchant's write was kept",
                metadata: metadata)
        }
    }
}
