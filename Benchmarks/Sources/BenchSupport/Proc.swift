import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Readings from /proc: CPU time per process or per thread (schedstat, in nanoseconds), memory.
public enum Proc {
    /// Sum of on-CPU nanoseconds of every thread of `pid` (threads that already exited are lost,
    /// which is why the drivers also read utime+stime from /proc/PID/stat).
    public static func threadCPU(pid: Int32, threadPrefix: String? = nil) -> Double {
        let dir = "/proc/\(pid)/task"
        guard let tids = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return 0 }
        var total: Double = 0
        for tid in tids {
            if let prefix = threadPrefix {
                let comm = (try? String(contentsOfFile: "\(dir)/\(tid)/comm", encoding: .utf8)) ?? ""
                guard comm.hasPrefix(prefix) else { continue }
            }
            guard let text = try? String(contentsOfFile: "\(dir)/\(tid)/schedstat", encoding: .utf8),
                  let first = text.split(separator: " ").first, let ns = Double(first) else { continue }
            total += ns / 1e9
        }
        return total
    }

    /// utime + stime of the whole process (exited threads included; with `includingReapedChildren`,
    /// also cutime + cstime: children already reaped), in seconds; 10 ms resolution.
    public static func processCPU(pid: Int32, includingReapedChildren: Bool = false) -> Double {
        guard let fields = statFields(pid), fields.count > 14 else { return 0 }
        // fields[0] is stat's field 3 (state): utime is 14, stime 15, cutime 16, cstime 17.
        let indices = includingReapedChildren ? [11, 12, 13, 14] : [11, 12]
        return indices.compactMap { Double(fields[$0]) }.reduce(0, +) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// CPU time: the finer of schedstat (ns) and stat (exited threads), whichever is larger.
    public static func cpu(pid: Int32) -> Double { max(threadCPU(pid: pid), processCPU(pid: pid)) }

    public static func parent(of pid: Int32) -> Int32? {
        guard let fields = statFields(pid), fields.count > 1 else { return nil }
        return Int32(fields[1])
    }

    private static func statFields(_ pid: Int32) -> [Substring]? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return nil }
        return text[text.index(after: close)...].split(separator: " ")
    }

    /// A `Vm…:` line of /proc/PID/status in kB.
    public static func status(pid: Int32, _ key: String) -> Int {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix(key + ":") {
            return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "0") ?? 0
        }
        return 0
    }

    public static func selfCPU() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
            + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
    }
}

/// Reads the LD_PRELOAD shim's commit counter (0 when the shim is not in use).
public func readCounter(_ path: String) -> UInt64 {
    guard let data = FileManager.default.contents(atPath: path), data.count >= 8 else { return 0 }
    return data.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
}

/// Exact CPU time of one process, every thread it ever had included: a cgroup v1 `cpuacct`
/// group of its own (nanoseconds). Needs root and a mounted cpuacct hierarchy; where either is
/// missing, `init` fails and the drivers fall back to /proc (exited threads then count only in
/// 10 ms ticks, too coarse for P3's ≤ 1 ms per second).
public final class CPUAccount: @unchecked Sendable {
    public static let root = "/sys/fs/cgroup/cpuacct"
    /// Whether this process may make such groups.
    public static var available: Bool { access(root + "/cgroup.procs", W_OK) == 0 }
    let directory: String

    public init?(pid: Int32, tag: String = "closeorderd-bench") {
        directory = Self.root + "/\(tag)-\(getpid())-\(pid)"
        guard mkdir(directory, 0o755) == 0 else { return nil }
        guard (try? "\(pid)\n".write(toFile: directory + "/cgroup.procs", atomically: false, encoding: .utf8)) != nil else {
            rmdir(directory)
            return nil
        }
    }

    public var seconds: Double {
        let text = (try? String(contentsOfFile: directory + "/cpuacct.usage", encoding: .utf8)) ?? "0"
        return (Double(text.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0) / 1e9
    }

    /// After the process has exited (the group must be empty).
    public func remove() { rmdir(directory) }
}
