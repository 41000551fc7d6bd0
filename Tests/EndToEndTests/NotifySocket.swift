import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A unix datagram socket standing in for systemd's NOTIFY_SOCKET, so a test can wait for the
/// daemon's READY=1 and STOPPING=1 instead of guessing when it is ready.
final class NotifySocket: @unchecked Sendable {
    let path: String
    private let descriptor: Int32

    init(directory: URL) throws {
        path = directory.appendingPathComponent("notify.sock").path
        descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        guard descriptor >= 0 else { throw POSIXError(.EIO) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: Array(path.utf8) + [0])
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard bound == 0 else { throw POSIXError(.EADDRINUSE) }
    }

    deinit { close(descriptor) }

    /// Blocks (on a background thread) until a datagram containing `state` arrives, or `timeout` passes.
    /// Returns every message received on the way.
    func waitFor(_ state: String, timeout: Duration) async -> (found: Bool, messages: [String]) {
        let descriptor = self.descriptor
        return await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                var messages: [String] = []
                let deadline = ContinuousClock.now + timeout
                var buffer = [UInt8](repeating: 0, count: 4096)
                while ContinuousClock.now < deadline {
                    var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
                    let remaining = deadline - ContinuousClock.now
                    let milliseconds = Int32(
                        max(1, remaining.components.seconds * 1000 + remaining.components.attoseconds / 1_000_000_000_000_000))
                    guard poll(&poller, 1, milliseconds) > 0 else { continue }
                    let count = recv(descriptor, &buffer, buffer.count, 0)
                    guard count > 0 else { continue }
                    let message = String(decoding: buffer[0..<count], as: UTF8.self)
                    messages.append(message)
                    if message.split(separator: "\n").contains(Substring(state)) {
                        continuation.resume(returning: (true, messages))
                        return
                    }
                }
                continuation.resume(returning: (false, messages))
            }
        }
    }
}
