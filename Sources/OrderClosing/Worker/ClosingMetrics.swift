import Metrics

/// The daemon's metrics, through swift-metrics (a no-op until a backend is bootstrapped; the
/// daemon bootstraps Prometheus when `metrics.enabled` is set). Merchant ids come from the config,
/// so the `mch_id` label's cardinality is bounded by it. Every series is created at start (zero),
/// so dashboards and alerts see it before the first event.
///
/// | metric                                   | type      | labels                 |
/// |------------------------------------------|-----------|------------------------|
/// | closeorderd_attempts_total               | counter   | outcome, mch_id        |
/// | closeorderd_orders_failed_total          | counter   | mch_id                 |
/// | closeorderd_call_duration_seconds        | histogram | endpoint               |
/// | closeorderd_orders                       | gauge     | status (due, closing, in_doubt) |
/// | closeorderd_oldest_due_lag_seconds       | gauge     |                        |
/// | closeorderd_overdue_orders               | gauge     |                        |
/// | closeorderd_oldest_overdue_seconds       | gauge     |                        |
/// | closeorderd_merchant_circuit_open        | gauge     | mch_id                 |
/// | closeorderd_endpoint_in_use              | gauge     | endpoint               |
/// | closeorderd_heartbeat_timestamp_seconds  | gauge     |                        |
/// | closeorderd_orders_pruned_total          | counter   | status (closed, paid, failed) |
/// | closeorderd_concurrency_limit            | gauge     |                        |
public enum ClosingMetrics {
    /// `# HELP` text of every series, served by the daemon's metrics factory.
    public static let help: [String: String] = [
        "closeorderd_attempts_total": "Calls to WeChat Pay's closeorder, by typed outcome and merchant.",
        "closeorderd_orders_failed_total":
            "Orders that ended failed (retries spent, refused, unservable, or a contradiction), by merchant.",
        "closeorderd_call_duration_seconds": "Duration of closeorder calls, by endpoint.",
        "closeorderd_orders": "Orders due now, being closed, and due in doubt, at the last heartbeat.",
        "closeorderd_oldest_due_lag_seconds": "How late the oldest claimable due order is (the loop's own lag).",
        "closeorderd_overdue_orders": "Undecided orders past their own due time, whatever their retry time; alert on these.",
        "closeorderd_oldest_overdue_seconds": "How far past its own due time the oldest undecided order is.",
        "closeorderd_merchant_circuit_open":
            "1 while a merchant (or sub-merchant) is paused by its circuit or has no usable key.",
        "closeorderd_endpoint_in_use": "1 for the WeChat Pay endpoint in use, 0 for the other.",
        "closeorderd_heartbeat_timestamp_seconds": "Unix time of the daemon's last heartbeat.",
        "closeorderd_orders_pruned_total":
            "Finished orders deleted by retention (retention.keep_days), with their attempts, by final status.",
        "closeorderd_concurrency_limit":
            "Calls to WeChat Pay the adaptive limit allows in flight now (at most throughput.concurrency).",
    ]

    /// The outcome labels `attempts_total` takes: the audit vocabulary (`AuditOutcome`).
    public static let outcomes = AuditOutcome.allCases.map(\.rawValue)

    /// Creates every series at zero for these merchants and endpoints.
    public static func start(merchants: [String], endpoints: [String]) {
        for endpoint in endpoints { _ = Timer(label: "closeorderd_call_duration_seconds", dimensions: [("endpoint", endpoint)]) }
        for mchID in merchants {
            for outcome in outcomes {
                Counter(label: "closeorderd_attempts_total", dimensions: [("outcome", outcome), ("mch_id", mchID)]).increment(
                    by: 0)
            }
            Counter(label: "closeorderd_orders_failed_total", dimensions: [("mch_id", mchID)]).increment(by: 0)
            circuit(mchID: mchID, open: false)
        }
        queue(QueueSummary(counts: [:], oldestDueLagMs: 0, inDoubt: 0))
        pruned(PrunedOrders(orders: Dictionary(uniqueKeysWithValues: PrunedOrders.finishedStatuses.map { ($0, 0) })))
    }

    /// The adaptive in-flight limit, recorded when its whole number moves (a few times per round
    /// trip at most), so pushback can be watched settling.
    static func concurrencyLimit(_ limit: Int) {
        Gauge(label: "closeorderd_concurrency_limit").record(limit)
    }

    /// Orders a retention batch deleted.
    static func pruned(_ pruned: PrunedOrders) {
        for status in PrunedOrders.finishedStatuses {
            Counter(label: "closeorderd_orders_pruned_total", dimensions: [("status", status.rawValue)]).increment(
                by: pruned.orders[status] ?? 0)
        }
    }

    static func attempt(outcome: String, mchID: String, endpoint: String?, latencyMs: Int64) {
        Counter(label: "closeorderd_attempts_total", dimensions: [("outcome", outcome), ("mch_id", mchID)]).increment()
        Timer(label: "closeorderd_call_duration_seconds", dimensions: [("endpoint", endpoint ?? "none")])
            .recordMilliseconds(latencyMs)
    }

    static func failed(mchID: String) {
        Counter(label: "closeorderd_orders_failed_total", dimensions: [("mch_id", mchID)]).increment()
    }

    static func circuit(mchID: String, open: Bool) {
        Gauge(label: "closeorderd_merchant_circuit_open", dimensions: [("mch_id", mchID)]).record(open ? 1 : 0)
    }

    /// Queue gauges, set by the heartbeat.
    public static func queue(_ summary: QueueSummary) {
        for status in ["due", "closing"] {
            Gauge(label: "closeorderd_orders", dimensions: [("status", status)]).record(summary.counts[status] ?? 0)
        }
        Gauge(label: "closeorderd_orders", dimensions: [("status", "in_doubt")]).record(summary.inDoubt)
        Gauge(label: "closeorderd_oldest_due_lag_seconds").record(Double(summary.oldestDueLagMs) / 1000)
        Gauge(label: "closeorderd_overdue_orders").record(summary.overdue)
        Gauge(label: "closeorderd_oldest_overdue_seconds").record(Double(summary.oldestOverdueMs) / 1000)
    }

    /// The heartbeat's time, so an alert can fire when it stops.
    public static func heartbeat(atMs now: Int64) {
        Gauge(label: "closeorderd_heartbeat_timestamp_seconds").record(Double(now) / 1000)
    }

    /// Which endpoint the gateway uses: 1 for the one in use, 0 for the other.
    public static func endpoint(inUse: String, other: String?) {
        Gauge(label: "closeorderd_endpoint_in_use", dimensions: [("endpoint", inUse)]).record(1)
        if let other { Gauge(label: "closeorderd_endpoint_in_use", dimensions: [("endpoint", other)]).record(0) }
    }
}
