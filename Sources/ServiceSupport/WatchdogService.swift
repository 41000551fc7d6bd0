import ServiceLifecycle

/// Sends `WATCHDOG=1` every ``SystemdNotifier/watchdogInterval`` so systemd restarts the daemon
/// if it hangs (`WatchdogSec=` in the unit).
///
/// Pings come from their own task, so they prove the process and its async runtime are alive,
/// not that the worker makes progress.
///
/// Stops at graceful shutdown: systemd disarms the watchdog once the unit leaves the running
/// state (SIGTERM from `systemctl stop`, or `STOPPING=1`), so a long drain cannot trip it.
/// Send `STOPPING=1` when shutdown starts for any other reason.
///
/// `run()` returns at once when there is no watchdog interval. Register it in the
/// `ServiceGroup` with `successTerminationBehavior: .ignore`, or its return would end the group
/// under the default `.cancelGroup`.
public struct WatchdogService: Service {
    public let notifier: SystemdNotifier

    public init(notifier: SystemdNotifier) {
        self.notifier = notifier
    }

    public func run() async throws {
        guard let interval = notifier.watchdogInterval else { return }
        let notifier = self.notifier
        await cancelWhenGracefulShutdown {
            // Ping first, then wait: the first ping must not wait a full interval after READY=1.
            while !Task.isCancelled {
                notifier.watchdog()
                do {
                    try await Task.sleep(for: interval)
                } catch {
                    return  // Cancelled, or graceful shutdown (which cancels this closure).
                }
            }
        }
    }
}
