import Foundation
import Logging

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Chooses and installs the process-wide log handler.
public enum LoggingBootstrap {
    /// A factory for `LoggingSystem.bootstrap`, producing handlers of `format` at `level`.
    ///
    /// - Parameter environment: read for `JOURNAL_STREAM` when `format` is `.auto`; injectable
    ///   so the choice can be tested.
    public static func handlerFactory(
        format: LogFormat,
        level: Logger.Level,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> @Sendable (String) -> any LogHandler {
        handlerFactory(
            format: format,
            level: level,
            environment: environment,
            journalSocketPath: JournaldLogHandler.defaultSocketPath
        )
    }

    /// Same, with the journal socket injectable for tests.
    static func handlerFactory(
        format: LogFormat,
        level: Logger.Level,
        environment: [String: String],
        journalSocketPath: String
    ) -> @Sendable (String) -> any LogHandler {
        let resolved = resolve(
            format,
            journalStream: environment["JOURNAL_STREAM"],
            standardError: fileIdentity(of: 2),
            journalSocketExists: socketExists(at: journalSocketPath)
        )
        return { label in
            var handler: any LogHandler
            switch resolved {
            case .journal: handler = JournaldLogHandler(label: label, socketPath: journalSocketPath)
            case .json: handler = JSONLogHandler(label: label)
            case .logfmt, .auto: handler = LogfmtLogHandler(label: label)
            }
            handler.logLevel = level
            return handler
        }
    }

    /// Installs the handlers. Like `LoggingSystem.bootstrap`, call it once, before any `Logger`
    /// is created.
    public static func bootstrap(format: LogFormat, level: Logger.Level) {
        LoggingSystem.bootstrap(handlerFactory(format: format, level: level))
    }

    /// Device and inode of an open file, as `JOURNAL_STREAM` spells them.
    struct FileIdentity: Equatable {
        var device: UInt64
        var inode: UInt64
    }

    /// `.auto` becomes `.journal` only when stderr is the very stream systemd connected to the
    /// journal (the check `systemd.exec(5)` documents for `JOURNAL_STREAM`: a redirected or
    /// inherited stderr keeps the variable but not the device and inode) and the native socket
    /// exists to send to. Anything else is logfmt, readable in a terminal.
    static func resolve(
        _ format: LogFormat,
        journalStream: String?,
        standardError: FileIdentity?,
        journalSocketExists: Bool
    ) -> LogFormat {
        guard format == .auto else { return format }
        guard journalSocketExists, let standardError, let journalStream else { return .logfmt }
        let parts = journalStream.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else { return .logfmt }
        return FileIdentity(device: device, inode: inode) == standardError ? .journal : .logfmt
    }

    static func fileIdentity(of fd: Int32) -> FileIdentity? {
        var info = stat()
        guard fstat(fd, &info) == 0 else { return nil }
        return FileIdentity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
    }

    static func socketExists(at path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFSOCK
    }
}
