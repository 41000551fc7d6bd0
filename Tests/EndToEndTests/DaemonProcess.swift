import Foundation

/// The real `closeorderd` binary, run as a child process.
final class DaemonProcess: @unchecked Sendable {
    let process = Process()
    let stderrPath: String
    private let exited = AsyncStream<Int32>.makeStream()

    /// The binary built next to this test bundle (`swift test` builds it), or `$CLOSEORDERD_BINARY`.
    static func binary() throws -> URL {
        if let path = ProcessInfo.processInfo.environment["CLOSEORDERD_BINARY"] { return URL(fileURLWithPath: path) }
        let here = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        let candidate = here.appendingPathComponent("closeorderd")
        guard FileManager.default.isExecutableFile(atPath: candidate.path) else {
            throw POSIXError(.ENOENT, userInfo: [NSLocalizedDescriptionKey: "closeorderd binary not found at \(candidate.path); run swift build first"])
        }
        return candidate
    }

    init(arguments: [String], environment: [String: String], stderrPath: String) throws {
        self.stderrPath = stderrPath
        process.executableURL = try Self.binary()
        process.arguments = arguments
        var merged = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("CLOSEORDERD_") && $0.key != "NOTIFY_SOCKET" && $0.key != "JOURNAL_STREAM" }
        merged.merge(environment) { $1 }
        process.environment = merged
        FileManager.default.createFile(atPath: stderrPath, contents: nil)
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrPath))
        process.standardOutput = FileHandle.nullDevice
        let continuation = exited.continuation
        process.terminationHandler = { process in
            continuation.yield(process.terminationStatus)
            continuation.finish()
        }
    }

    func start() throws { try process.run() }

    func signal(_ number: Int32) { kill(process.processIdentifier, number) }

    /// Waits for the process to exit and returns its status.
    func exitStatus() async -> Int32 {
        for await status in exited.stream { return status }
        return process.terminationStatus
    }

    var log: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }
}
