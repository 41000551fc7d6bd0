import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The real `closeorderd` binary as a child process, its CPU time counted exactly: it is moved
/// into a `CPUAccount` of its own right after launch; without root or that hierarchy, /proc.
public final class BenchDaemon: @unchecked Sendable {
    public let process = Process()
    public let logPath: String
    private var account: CPUAccount?
    private let tag: String

    /// `environment` is added to the driver's own, less any `CLOSEORDERD_*` and `NOTIFY_SOCKET`.
    public init(binary: String, arguments: [String], logPath: String, environment extra: [String: String] = [:],
                tag: String = "closeorderd-bench") throws {
        self.logPath = logPath
        self.tag = tag
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment
            .filter { !$0.key.hasPrefix("CLOSEORDERD_") && $0.key != "NOTIFY_SOCKET" }
            .merging(extra) { $1 }
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.standardOutput = FileHandle.nullDevice
    }

    public var pid: Int32 { process.processIdentifier }

    public func start() throws {
        try process.run()
        account = CPUAccount(pid: pid, tag: tag)
    }

    /// The daemon's CPU seconds so far: exact from its cgroup, else from /proc.
    public var cpuSeconds: Double { account?.seconds ?? Proc.cpu(pid: pid) }

    /// SIGTERM, then up to `seconds` for it to end (SIGKILL after). Returns the exit status.
    public func stop(seconds: Double = 30) -> Int32 {
        defer { account?.remove() }
        guard process.isRunning else { return process.terminationStatus }
        kill(pid, SIGTERM)
        let deadline = monotonic() + seconds
        while process.isRunning, monotonic() < deadline { usleep(10_000) }
        if process.isRunning {
            kill(pid, SIGKILL)
            process.waitUntilExit()
            return -9
        }
        return process.terminationStatus
    }

    public var logTail: String { String(((try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "").suffix(1500)) }

    /// Runs a program (a CLI command of the binary, curl, sha256sum) to completion; its exit status
    /// and output (stdout and stderr).
    public static func run(binary: String, _ arguments: [String]) throws -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
