import Testing

@testable import ServiceSupport

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

@Suite("sd_notify")
struct SystemdNotifierTests {
    @Test func sendsStatesToNotifySocket() throws {
        let socket = try TemporaryDatagramSocket(name: "notify")
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": socket.path])
        #expect(notifier.isEnabled)

        #expect(notifier.ready())
        #expect(socket.receiveString() == "READY=1")

        #expect(notifier.status("closing 3 due orders\nbacklog 12\r\nok"))
        #expect(socket.receiveString() == "STATUS=closing 3 due orders backlog 12 ok")

        #expect(notifier.watchdog())
        #expect(socket.receiveString() == "WATCHDOG=1")

        #expect(notifier.stopping())
        #expect(socket.receiveString() == "STOPPING=1")

        #expect(notifier.notify("RELOADING=1\nMONOTONIC_USEC=1"))
        #expect(socket.receiveString() == "RELOADING=1\nMONOTONIC_USEC=1")
    }

    @Test func reachesAbstractNamespaceSockets() throws {
        let name = "closeorderd-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let socket = try TemporaryDatagramSocket(abstractName: name)
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": "@" + name])
        #expect(notifier.ready())
        #expect(socket.receiveString() == "READY=1")
    }

    @Test func isANoOpWithoutNotifySocket() {
        let notifier = SystemdNotifier(environment: [:])
        #expect(!notifier.isEnabled)
        #expect(!notifier.ready())
        #expect(!notifier.status("x"))
        #expect(!notifier.watchdog())
        #expect(!notifier.stopping())
        #expect(notifier.watchdogInterval == nil)
    }

    @Test(arguments: ["", "relative/path", "vsock:2:1234"])
    func ignoresNotifySocketsItCannotReach(value: String) {
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": value])
        #expect(!notifier.isEnabled)
        #expect(!notifier.ready())
    }

    @Test func failsQuietlyWhenNobodyListens() {
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": "/nonexistent/notify"])
        #expect(notifier.isEnabled)
        #expect(!notifier.ready())
    }

    @Test func watchdogIntervalIsHalfOfWatchdogUsec() {
        let notifier = SystemdNotifier(environment: ["WATCHDOG_USEC": "4000000"])
        #expect(notifier.watchdogInterval == .seconds(2))
    }

    @Test func watchdogIntervalAppliesToOwnPID() {
        let notifier = SystemdNotifier(environment: ["WATCHDOG_USEC": "4000000", "WATCHDOG_PID": "\(getpid())"])
        #expect(notifier.watchdogInterval == .seconds(2))
    }

    @Test func watchdogIntervalIgnoredForAnotherPID() {
        let notifier = SystemdNotifier(environment: ["WATCHDOG_USEC": "4000000", "WATCHDOG_PID": "\(getpid() + 1)"])
        #expect(notifier.watchdogInterval == nil)
    }

    @Test(arguments: ["0", "-5", "soon", ""])
    func watchdogIntervalIgnoresInvalidUsec(value: String) {
        #expect(SystemdNotifier(environment: ["WATCHDOG_USEC": value]).watchdogInterval == nil)
    }

    @Test func watchdogIntervalKeepsOddMicroseconds() {
        #expect(SystemdNotifier(environment: ["WATCHDOG_USEC": "3"]).watchdogInterval == .nanoseconds(1500))
    }
}
