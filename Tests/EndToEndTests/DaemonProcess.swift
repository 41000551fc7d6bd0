import Foundation
import Testing

/// The real `closeorderd` binary, run as a child process.
final class DaemonProcess: @unchecked Sendable {
    let process = Process()
    let stderrPath: String
    /// The exit status once known, and whoever waits for it.
    private let lock = NSLock()
    private var status: Int32?
    private var waiters: [UUID: CheckedContinuation<Int32?, Never>] = [:]

    /// The binary built next to this test bundle (`swift test` builds it), or `$CLOSEORDERD_BINARY`.
    static func binary() throws -> URL {
        if let path = ProcessInfo.processInfo.environment["CLOSEORDERD_BINARY"] { return URL(fileURLWithPath: path) }
        let here = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        let candidate = here.appendingPathComponent("closeorderd")
        guard FileManager.default.isExecutableFile(atPath: candidate.path) else {
            throw POSIXError(
                .ENOENT,
                userInfo: [NSLocalizedDescriptionKey: "closeorderd binary not found at \(candidate.path); run swift build first"])
        }
        return candidate
    }

    init(arguments: [String], environment: [String: String], stderrPath: String) throws {
        self.stderrPath = stderrPath
        process.executableURL = try Self.binary()
        process.arguments = arguments
        var merged = ProcessInfo.processInfo.environment.filter {
            !$0.key.hasPrefix("CLOSEORDERD_") && $0.key != "NOTIFY_SOCKET" && $0.key != "JOURNAL_STREAM"
        }
        merged.merge(environment) { $1 }
        process.environment = merged
        FileManager.default.createFile(atPath: stderrPath, contents: nil)
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrPath))
        process.standardOutput = FileHandle.nullDevice
        process.terminationHandler = { [weak self] process in self?.exited(process.terminationStatus) }
    }

    private func exited(_ status: Int32) {
        let waiting = lock.withLock {
            self.status = status
            defer { waiters = [:] }
            return waiters.values
        }
        waiting.forEach { $0.resume(returning: status) }
    }

    func start() throws { try process.run() }

    func signal(_ number: Int32) { kill(process.processIdentifier, number) }

    /// Waits for the process to exit and returns its status. A daemon that has not exited within
    /// `timeout` is a regression, not a reason to hang the run: it is killed (its log kept), the
    /// test fails saying so, and the result is nil.
    func exitStatus(
        within timeout: Duration = .seconds(60), _ awaited: String = "the daemon to exit",
        sourceLocation: SourceLocation = #_sourceLocation
    ) async -> Int32? {
        let id = UUID()
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Int32?, Never>) in
            let known = lock.withLock { () -> Int32?? in
                if let status = self.status { return .some(status) }
                waiters[id] = continuation
                return .none
            }
            if let known { continuation.resume(returning: known) }
            // The deadline: resumes the waiter with nil unless the exit came first.
            DispatchQueue.global().asyncAfter(
                deadline: .now() + Double(timeout.components.seconds)
                    + Double(timeout.components.attoseconds) / 1e18
            ) { [weak self] in
                guard let self, let late = lock.withLock({ waiters.removeValue(forKey: id) }) else { return }
                late.resume(returning: nil)
            }
        }
        if result == nil {
            Issue.record(
                "timed out after \(timeout) waiting for \(awaited) (pid \(process.processIdentifier)); killed it. Log: \(log.suffix(2000))",
                sourceLocation: sourceLocation)
            signal(SIGKILL)
        }
        return result
    }

    var log: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }
}
