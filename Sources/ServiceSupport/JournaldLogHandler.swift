import Logging

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Sends each event to journald over its native protocol, one datagram per event, so every
/// metadata key becomes a field: `journalctl -u closeorderd OUT_TRADE_NO=T1` finds one order's
/// attempts, and `PRIORITY` drives `journalctl -p warning`.
///
/// Written by hand because no journald backend for swift-log is in the package mirror.
/// When a datagram cannot be sent (too large for the socket buffer, journald restarting) the
/// event is written as a logfmt line to stderr instead, which under systemd also reaches the
/// journal, so nothing is lost.
public struct JournaldLogHandler: LogHandler {
    public static let defaultSocketPath = "/run/systemd/journal/socket"
    public static let syslogIdentifier = "closeorderd"

    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    public var logLevel: Logger.Level = .info
    public let label: String
    public let socketPath: String

    private let fallback: @Sendable (String) -> Void
    private let timestamp: @Sendable () -> String

    /// - Parameter socketPath: journald's socket; tests point this at a socket of their own.
    public init(
        label: String,
        socketPath: String = JournaldLogHandler.defaultSocketPath,
        metadataProvider: Logger.MetadataProvider? = LoggingSystem.metadataProvider
    ) {
        self.init(
            label: label,
            socketPath: socketPath,
            metadataProvider: metadataProvider,
            fallback: StandardError.write,
            timestamp: LogTimestamp.now
        )
    }

    /// Lets tests capture the stderr fallback.
    init(
        label: String,
        socketPath: String,
        metadataProvider: Logger.MetadataProvider?,
        fallback: @escaping @Sendable (String) -> Void,
        timestamp: @escaping @Sendable () -> String
    ) {
        self.label = label
        self.socketPath = socketPath
        self.metadataProvider = metadataProvider
        self.fallback = fallback
        self.timestamp = timestamp
    }

    public func log(event: LogEvent) {
        let record = LogRecord(event: event, handlerMetadata: metadata, metadataProvider: metadataProvider)
        let datagram = Self.datagram(record: record, label: label, file: event.file, line: event.line, function: event.function)
        if case .failure(let error) = UnixDatagram.send(datagram.bytes, on: Self.sharedSocket, to: socketPath) {
            var fallbackRecord = record
            fallbackRecord.fields.append((key: "journal_error", value: error.name))
            fallbackRecord.fields.sort { $0.key < $1.key }
            fallback(LogfmtLogHandler.line(timestamp: timestamp(), record: fallbackRecord))
        }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// Fields this handler sets itself; metadata mapping to one of these is renamed `META_…`.
    static let reservedFields: Set<String> = [
        "MESSAGE", "PRIORITY", "SYSLOG_IDENTIFIER", "CLOSEORDERD_LOGGER", "CODE_FILE", "CODE_LINE", "CODE_FUNC",
    ]

    /// The complete datagram for one event. `CODE_*` are the fields `sd_journal_send` adds too,
    /// so `journalctl -o verbose` points at the call site.
    static func datagram(record: LogRecord, label: String, file: String, line: UInt, function: String) -> JournalDatagram {
        var datagram = JournalDatagram()
        datagram.append("MESSAGE", record.message)
        datagram.append("PRIORITY", String(priority(record.level)))
        datagram.append("SYSLOG_IDENTIFIER", syslogIdentifier)
        datagram.append("CLOSEORDERD_LOGGER", label)
        datagram.append("CODE_FILE", file)
        datagram.append("CODE_LINE", String(line))
        datagram.append("CODE_FUNC", function)
        for (key, value) in record.fields {
            datagram.append(JournalDatagram.fieldName(forMetadataKey: key, reserved: reservedFields), value)
        }
        return datagram
    }

    /// syslog(3) priorities; swift-log has no `alert`/`emerg`, so `critical` is the top (2).
    static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: return 7
        case .info: return 6
        case .notice: return 5
        case .warning: return 4
        case .error: return 3
        case .critical: return 2
        }
    }

    /// One unconnected socket for the whole process (each send names its destination), opened on
    /// first use; loggers are cheap values and must not each hold a file descriptor. Its send
    /// buffer is raised towards 8 MiB like `sd_journal_send` does, so large events still fit.
    static let sharedSocket: Int32 = {
        let fd = UnixDatagram.openSocket()
        if fd >= 0 {
            var size: Int32 = 8 * 1024 * 1024
            _ = setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        return fd
    }()
}
