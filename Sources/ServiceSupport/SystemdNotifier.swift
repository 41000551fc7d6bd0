import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Tells systemd about the service's state (`sd_notify(3)`): `READY=1` so `systemctl start`
/// returns only once the daemon can work, `STATUS=` for `systemctl status`, `WATCHDOG=1`
/// keep-alives, and `STOPPING=1`.
///
/// Implemented directly (one datagram to `NOTIFY_SOCKET`) instead of linking libsystemd: the
/// protocol is tiny and this keeps the binary free of a C dependency. Outside systemd
/// (`NOTIFY_SOCKET` unset) every call is a silent no-op, so the daemon runs the same anywhere.
public struct SystemdNotifier: Sendable {
    /// `NOTIFY_SOCKET` when it names a socket this type can reach (a path, or `@name` for the
    /// abstract namespace); nil otherwise.
    public let socketPath: String?

    /// How often to send `WATCHDOG=1`: half of `WATCHDOG_USEC`, as `sd_watchdog_enabled(3)`
    /// recommends, so one late ping does not trip the watchdog. Nil when systemd expects no pings,
    /// or when `WATCHDOG_PID` names another process (the variables were inherited, not meant for us).
    public var watchdogInterval: Duration?

    /// Reads `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID`. The environment is left as is
    /// (unlike `sd_notify`'s `unset_environment`): unsetting is not thread-safe in a running process.
    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.socketPath = Self.socketPath(from: environment["NOTIFY_SOCKET"])
        self.watchdogInterval = Self.watchdogInterval(
            microseconds: environment["WATCHDOG_USEC"],
            pid: environment["WATCHDOG_PID"],
            ownPID: getpid()
        )
    }

    /// Whether there is a notification socket to talk to.
    public var isEnabled: Bool { socketPath != nil }

    /// Sends `state` (newline-separated `KEY=value` assignments) as one datagram.
    ///
    /// - Returns: whether it was sent; false without `NOTIFY_SOCKET` or on any error. Never
    ///   throws: a missed notification must not take the daemon down.
    @discardableResult
    public func notify(_ state: String) -> Bool {
        guard let socketPath else { return false }
        let fd = UnixDatagram.openSocket()
        guard fd >= 0 else { return false }
        defer { close(fd) }
        if case .success = UnixDatagram.send(Array(state.utf8), on: fd, to: socketPath) { return true }
        return false
    }

    /// Startup is complete; `systemctl start` returns and dependent units start.
    @discardableResult
    public func ready() -> Bool { notify("READY=1") }

    /// Shutdown has begun; systemd shows the unit as deactivating and stops expecting pings.
    @discardableResult
    public func stopping() -> Bool { notify("STOPPING=1") }

    /// Free-form one-line status for `systemctl status`; line breaks would end the assignment,
    /// so they become spaces.
    @discardableResult
    public func status(_ text: String) -> Bool {
        let oneLine = String(text.map { $0.isNewline ? " " : $0 })
        return notify("STATUS=" + oneLine)
    }

    /// Keep-alive for `WatchdogSec=`.
    @discardableResult
    public func watchdog() -> Bool { notify("WATCHDOG=1") }

    static func socketPath(from value: String?) -> String? {
        guard let value, let first = value.first, first == "/" || first == "@" else { return nil }
        return value
    }

    static func watchdogInterval(microseconds: String?, pid: String?, ownPID: pid_t) -> Duration? {
        guard let microseconds, let usec = Int64(microseconds), usec > 0 else { return nil }
        if let pid {
            guard let watchdogPID = pid_t(pid), watchdogPID == ownPID else { return nil }
        }
        return .microseconds(usec) / 2
    }
}
