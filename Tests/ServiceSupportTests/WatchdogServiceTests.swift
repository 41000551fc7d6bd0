import Logging
import ServiceLifecycle
import Testing

@testable import ServiceSupport

@Suite("watchdog service")
struct WatchdogServiceTests {
    @Test func returnsAtOnceWithoutWatchdog() async throws {
        let service = WatchdogService(notifier: SystemdNotifier(environment: [:]))
        try await service.run()
    }

    @Test func pingsRepeatedlyUntilCancelled() async throws {
        let socket = try TemporaryDatagramSocket(name: "notify")
        // 100 ms pings: quick, yet far from filling the socket's 10-datagram queue before cancel.
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": socket.path, "WATCHDOG_USEC": "200000"])
        let task = Task { try await WatchdogService(notifier: notifier).run() }

        #expect(await socket.receiveStringOffPool() == "WATCHDOG=1")
        #expect(await socket.receiveStringOffPool() == "WATCHDOG=1")
        task.cancel()
        try await task.value
    }

    @Test func stopsOnGracefulShutdown() async throws {
        let socket = try TemporaryDatagramSocket(name: "notify")
        // A 5-minute interval: the service can only finish because shutdown interrupts its sleep.
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": socket.path, "WATCHDOG_USEC": "600000000"])
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: WatchdogService(notifier: notifier), successTerminationBehavior: .ignore)],
                logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
            )
        )
        let running = Task { try await group.run() }

        #expect(await socket.receiveStringOffPool() == "WATCHDOG=1", "first ping is immediate")
        await group.triggerGracefulShutdown()
        try await running.value
        #expect(!socket.hasPendingDatagram())
    }
}
