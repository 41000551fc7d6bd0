import Metrics

/// The daemon's metrics, through swift-metrics (a no-op until a backend is bootstrapped; the
/// daemon bootstraps Prometheus when `metrics.enabled` is set).
///
/// | metric                                   | type      | labels              |
/// |------------------------------------------|-----------|---------------------|
/// | closeorderd_attempts_total               | counter   | outcome             |
/// | closeorderd_call_duration_seconds        | histogram | endpoint            |
/// | closeorderd_orders                       | gauge     | status (due, closing, in_doubt) |
/// | closeorderd_oldest_due_lag_seconds       | gauge     |                     |
/// | closeorderd_overdue_orders               | gauge     |                     |
/// | closeorderd_oldest_overdue_seconds       | gauge     |                     |
/// | closeorderd_merchant_circuit_open        | gauge     | mch_id              |
/// | closeorderd_endpoint_in_use              | gauge     | endpoint            |
public enum ClosingMetrics {
    static func attempt(outcome: String, endpoint: String?, latencyMs: Int64) {
        Counter(label: "closeorderd_attempts_total", dimensions: [("outcome", outcome)]).increment()
        Timer(label: "closeorderd_call_duration_seconds", dimensions: [("endpoint", endpoint ?? "none")])
            .recordMilliseconds(latencyMs)
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

    /// Which endpoint the gateway uses: 1 for the one in use, 0 for the other.
    public static func endpoint(inUse: String, other: String?) {
        Gauge(label: "closeorderd_endpoint_in_use", dimensions: [("endpoint", inUse)]).record(1)
        if let other { Gauge(label: "closeorderd_endpoint_in_use", dimensions: [("endpoint", other)]).record(0) }
    }
}
