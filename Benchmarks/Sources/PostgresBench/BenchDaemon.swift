import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The real `closeorderd` binary as a child process, its CPU time counted exactly: it is moved
/// into a cgroup v1 `cpuacct` group of its own right after launch (every thread it ever has,
/// exited ones included, in nanoseconds). Without root or that hierarchy, /proc's utime + stime
/// (10 ms ticks). The commit-counting shim of `closeorderd-bench` is SQLite's and is not used here.
final class BenchDaemon: @unchecked Sendable {
    static let cgroupRoot = "/sys/fs/cgroup/cpuacct"
    static var exactCPU: Bool { access(cgroupRoot + "/cgroup.procs", W_OK) == 0 }

    let process = Process()
    let logPath: String
    private var cgroup: String?

    init(binary: String, arguments: [String], logPath: String) throws {
        self.logPath = logPath
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("CLOSEORDERD_") && $0.key != "NOTIFY_SOCKET" }
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.standardOutput = FileHandle.nullDevice
    }

    var pid: Int32 { process.processIdentifier }

    func start() throws {
        try process.run()
        let group = Self.cgroupRoot + "/closeorderd-pg-bench-\(getpid())-\(pid)"
        if mkdir(group, 0o755) == 0 {
            if (try? "\(pid)\n".write(toFile: group + "/cgroup.procs", atomically: false, encoding: .utf8)) != nil { cgroup = group } else { rmdir(group) }
        }
    }

    /// CPU seconds so far.
    var cpuSeconds: Double {
        if let cgroup {
            let text = (try? String(contentsOfFile: cgroup + "/cpuacct.usage", encoding: .utf8)) ?? "0"
            return (Double(text.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0) / 1e9
        }
        return ProcStat.times(pid: pid, includingReapedChildren: false)
    }

    /// SIGTERM, then up to `seconds` for it to end (SIGKILL after). Returns the exit status.
    func stop(seconds: Double = 30) -> Int32 {
        defer { if let cgroup { rmdir(cgroup) } }
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

    var logTail: String { String(((try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "").suffix(1500)) }

    /// Runs a program to completion; its exit status and output (stdout and stderr).
    static func run(_ executable: String, _ arguments: [String]) throws -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
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
