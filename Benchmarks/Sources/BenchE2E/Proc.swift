import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Readings from /proc: CPU time per process or per thread (schedstat, in nanoseconds), memory.
enum Proc {
    /// Sum of on-CPU nanoseconds of every thread of `pid` (threads that already exited are lost,
    /// which is why the driver also reads utime+stime from /proc/PID/stat).
    static func threadCPU(pid: Int32, threadPrefix: String? = nil) -> Double {
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

    /// utime + stime of the whole process (exited threads included), in seconds; 10 ms resolution.
    static func processCPU(pid: Int32) -> Double {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return 0 }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // fields[0] is state (field 3); utime is field 14, stime field 15.
        guard fields.count > 13, let u = Double(fields[11]), let s = Double(fields[12]) else { return 0 }
        return (u + s) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// CPU time: the finer of schedstat (ns) and stat (exited threads), whichever is larger.
    static func cpu(pid: Int32) -> Double { max(threadCPU(pid: pid), processCPU(pid: pid)) }

    /// A `Vm…:` line of /proc/PID/status in kB.
    static func status(pid: Int32, _ key: String) -> Int {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix(key + ":") {
            return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "0") ?? 0
        }
        return 0
    }

    static func selfCPU() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
            + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
    }
}

/// A monotonic clock in seconds.
func monotonic() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

func unixNow() -> Double { Date().timeIntervalSince1970 }

/// Reads the LD_PRELOAD shim's commit counter (0 when the shim is not in use).
func readCounter(_ path: String) -> UInt64 {
    guard let data = FileManager.default.contents(atPath: path), data.count >= 8 else { return 0 }
    return data.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
}

func percentile(_ sorted: [Double], _ p: Double) -> Double {
    guard !sorted.isEmpty else { return .nan }
    let index = min(sorted.count - 1, max(0, Int((p * Double(sorted.count)).rounded(.up)) - 1))
    return sorted[index]
}

struct Spread {
    let min: Double, median: Double, max: Double
    init(_ values: [Double]) {
        let s = values.filter { !$0.isNaN }.sorted()
        min = s.first ?? .nan
        max = s.last ?? .nan
        median = s.isEmpty ? .nan : (s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2)
    }
    func format(_ digits: Int = 0, scale: Double = 1) -> String {
        let f = { (v: Double) in String(format: "%.\(digits)f", v * scale) }
        return "\(f(min)) / \(f(median)) / \(f(max))"
    }
}

func log(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// Exact CPU time of one process, every thread it ever had included: a cgroup v1 `cpuacct`
/// group of its own (nanoseconds). Needs root and a mounted cpuacct hierarchy; where either is
/// missing, `init` fails and the driver falls back to /proc (exited threads then count only in
/// 10 ms ticks, too coarse for P3's ≤ 1 ms per second).
final class CPUAccount: @unchecked Sendable {
    static let root = "/sys/fs/cgroup/cpuacct"
    let directory: String

    init?(pid: Int32) {
        directory = Self.root + "/closeorderd-bench-\(getpid())-\(pid)"
        guard mkdir(directory, 0o755) == 0 else { return nil }
        guard (try? "\(pid)\n".write(toFile: directory + "/cgroup.procs", atomically: false, encoding: .utf8)) != nil else {
            rmdir(directory)
            return nil
        }
    }

    var seconds: Double {
        let text = (try? String(contentsOfFile: directory + "/cpuacct.usage", encoding: .utf8)) ?? "0"
        return (Double(text.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0) / 1e9
    }

    /// After the process has exited (the group must be empty).
    func remove() { rmdir(directory) }
}
