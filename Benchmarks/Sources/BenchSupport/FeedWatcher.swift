import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `closeorderd watch` as a child process (issue 25's figure, on either store): records, per line,
/// the time it reached this driver minus its `finished_ms`.
public final class FeedWatcher: @unchecked Sendable {
    public let process = Process()
    public let logPath: String
    private let lock = NSLock()
    private var buffer = Data()
    private var latencies: [Double] = []

    public init(binary: String, arguments: [String], logPath: String) throws {
        self.logPath = logPath
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("CLOSEORDERD_") }
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        let pipe = Pipe()
        process.standardOutput = pipe
        pipe.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            let arrived = unixNow() * 1000
            guard let self, !data.isEmpty else { return }
            lock.withLock {
                buffer.append(data)
                while let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = buffer[buffer.startIndex..<newline]
                    buffer.removeSubrange(buffer.startIndex...newline)
                    if let object = try? JSONSerialization.jsonObject(with: line) as? [String: Any],
                       let finished = (object["finished_ms"] as? NSNumber)?.doubleValue {
                        latencies.append(arrived - finished)
                    }
                }
            }
        }
        try process.run()
    }

    public var count: Int { lock.withLock { latencies.count } }

    public func stop() -> [Double] {
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        return lock.withLock { latencies }
    }

    public var logTail: String { String(((try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "").suffix(800)) }
}
