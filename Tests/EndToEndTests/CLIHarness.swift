import Foundation

/// Runs the real binary with a chosen environment: the test runner's own `CLOSEORDERD_*`
/// variables (CLOSEORDERD_RELIABILITY, CLOSEORDERD_BINARY…) are dropped, as `DaemonProcess` does,
/// since the daemon refuses variables it does not know.
enum CLIHarness {
    /// - Parameter timeout: a safety net for a command that should have refused at once but runs
    ///   (a daemon started by mistake); it is sent SIGTERM then, and its status shows it.
    static func run(
        _ arguments: [String], environment: [String: String] = [:],
        timeout: Double = 60
    ) async throws -> (status: Int32, output: String) {
        try await EndToEndWorld.offPool {
            let process = Process()
            process.executableURL = try DaemonProcess.binary()
            process.arguments = arguments
            var merged = ProcessInfo.processInfo.environment.filter {
                !$0.key.hasPrefix("CLOSEORDERD_") && $0.key != "NOTIFY_SOCKET"
            }
            merged.merge(environment) { $1 }
            process.environment = merged
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardError = pipe
            try process.run()
            let watched = Watched(process)
            DispatchQueue.global().asyncAfter(deadline: .now() + timeout) { watched.terminateIfRunning() }
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return (process.terminationStatus, String(decoding: data, as: UTF8.self))
        }
    }

    /// A fresh folder, removed by the caller.
    static func folder() throws -> URL {
        try CLITests.temporaryDirectory()
    }

    static func write(_ text: String, to url: URL, mode: Int = 0o600) {
        CLITests.write(text, to: url, mode: mode)
    }

    /// A minimal valid config in `folder` for the given merchants (each with a 32-character key
    /// file unless `keys` says otherwise), plus `extra` top-level JSON members.
    @discardableResult
    static func config(
        in folder: URL, merchants: [String] = ["1900000109"], keys: [String: String?] = [:],
        primaryURL: String = "http://127.0.0.1:9", extra: String = ""
    ) -> URL {
        var entries: [String] = []
        for mchID in merchants {
            let keyPath = folder.appendingPathComponent("\(mchID).key")
            switch keys[mchID] {
            case .some(.none): break  // no key file written
            case .some(.some(let key)): write(key, to: keyPath)
            case .none: write("0123456789abcdef0123456789abcdef", to: keyPath)
            }
            entries.append("\"\(mchID)\": { \"appids\": [\"wx2421b1c4370ec43b\"], \"key_file\": \"\(keyPath.path)\" }")
        }
        let config = folder.appendingPathComponent("config.json")
        write(
            """
            { "database": { "path": "\(folder.path)/orders.sqlite" },
              "wechatpay": { "primary_url": "\(primaryURL)", "failover": false },
              "log": { "format": "logfmt" },
              \(extra.isEmpty ? "" : extra + ",")
              "merchants": { \(entries.joined(separator: ", ")) } }
            """, to: config)
        return config
    }
}

/// Lets the timeout's closure reach the process (Process is not Sendable; these two calls are safe from any thread).
private final class Watched: @unchecked Sendable {
    let process: Process
    init(_ process: Process) { self.process = process }
    func terminateIfRunning() { if process.isRunning { process.terminate() } }
}
