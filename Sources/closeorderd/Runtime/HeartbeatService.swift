import Logging
import OrderClosing
import ServiceLifecycle
import ServiceSupport
import WeChatPayHTTP

/// Every interval: one log line and one systemd STATUS with the queue depth, the oldest due lag
/// and the endpoint in use; the same facts are published for `closeorderd status`.
struct HeartbeatService: Service {
    let store: any OrderStore
    let gateway: WeChatPayHTTPGateway
    let clock: any OrderClock
    let notifier: SystemdNotifier
    /// This daemon's heartbeat row; removed on a clean stop.
    let me: DaemonRecord
    let intervalSeconds: Int
    let logger: Logger

    func run() async throws {
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            await beat()
            try? await cancelWhenGracefulShutdown {
                try await clock.sleep(until: clock.now() + Int64(intervalSeconds) * 1000)
            }
        }
        // Services stop in reverse order, so the closing loop has drained by now.
        do {
            try await store.forget(daemon: me.owner)
        } catch {
            logger.warning(
                "could not remove this daemon's heartbeat row; status will show it as stale", metadata: ["error": "\(error)"])
        }
    }

    func beat() async {
        let now = clock.now()
        do {
            let summary = try await store.summary(now: now)
            let line =
                "due=\(summary.counts["due"] ?? 0) closing=\(summary.counts["closing"] ?? 0) "
                + "overdue=\(summary.overdue) oldest_overdue_s=\(summary.oldestOverdueMs / 1000) "
                + "in_doubt=\(summary.inDoubt) endpoint=\(gateway.currentEndpoint)"
            let overdue =
                summary.overdue == 0
                ? "nothing overdue"
                : "\(summary.overdue) overdue (oldest \(summary.oldestOverdueMs / 1000) s past its due time)"
            logger.log(
                level: summary.overdue > 0 && summary.oldestOverdueMs > 600_000 ? .warning : .info,
                "heartbeat: \(summary.counts["due"] ?? 0) due, \(summary.counts["closing"] ?? 0) closing, \(overdue), via \(gateway.currentEndpoint)",
                metadata: [
                    "due": .stringConvertible(summary.counts["due"] ?? 0),
                    "closing": .stringConvertible(summary.counts["closing"] ?? 0),
                    "overdue": .stringConvertible(summary.overdue),
                    "oldest_overdue_ms": .stringConvertible(summary.oldestOverdueMs),
                    "in_doubt": .stringConvertible(summary.inDoubt),
                    "oldest_due_lag_ms": .stringConvertible(summary.oldestDueLagMs),
                    "endpoint": "\(gateway.currentEndpoint)",
                ])
            notifier.status(line)
            ClosingMetrics.queue(summary)
            ClosingMetrics.heartbeat(atMs: now)
            ClosingMetrics.endpoint(inUse: gateway.currentEndpoint, other: gateway.otherEndpoint)
            try await store.announce(me, now: now)
            try await store.publish("heartbeat", "\(line) pid=\(getpid())", now: now)
        } catch {
            logger.error("heartbeat: cannot read the queue", metadata: ["error": "\(error)"])
            notifier.status("database error: \(error)")
        }
    }
}

#if canImport(Glibc)
    import Glibc
#endif
