import Dispatch
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Collects the lines a handler writes instead of sending them to stderr. An `NSLock` (a pthread
/// mutex) rather than `Synchronization.Mutex`, whose futex ThreadSanitizer cannot see on Linux.
final class LineCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var storage: [String] = []

    var lines: [String] { lock.withLock { storage } }

    @Sendable func append(_ line: String) {
        lock.withLock { storage.append(line) }
    }
}

/// A `SOCK_DGRAM` unix socket bound in a fresh temporary directory, standing in for journald's
/// socket or systemd's `NOTIFY_SOCKET`. Receives block for at most 10 s, so a broken sender
/// fails the test instead of hanging it.
final class TemporaryDatagramSocket: @unchecked Sendable {
    let directory: String?
    /// What `NOTIFY_SOCKET` or the handler's `socketPath` should say.
    let path: String
    private let fd: Int32

    /// Binds `name` inside a new temporary directory.
    convenience init(name: String = "socket") throws {
        var template = Array("/tmp/servicesupport.XXXXXX".utf8CString)
        guard let created = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw SocketError("mkdtemp", errno)
        }
        let directory = String(cString: created)
        try self.init(directory: directory, path: directory + "/" + name)
    }

    /// Binds `@name` in Linux's abstract namespace, the other form `NOTIFY_SOCKET` takes.
    convenience init(abstractName name: String) throws {
        try self.init(directory: nil, path: "@" + name)
    }

    private init(directory: String?, path: String) throws {
        self.directory = directory
        self.path = path

        #if canImport(Glibc)
            fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        #else
            fd = socket(AF_UNIX, SOCK_DGRAM, 0)
        #endif
        guard fd >= 0 else { throw SocketError("socket", errno) }

        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(path.utf8)
        let isAbstract = directory == nil
        if isAbstract { bytes[0] = 0 }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let pathOffset = MemoryLayout<sockaddr_un>.offset(of: \.sun_path)!
        let length = socklen_t(pathOffset + bytes.count + (isAbstract ? 0 : 1))
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard bound == 0 else { throw SocketError("bind", errno) }

        // Only a bound for a failing test: a loaded 2-core machine (CPU-heavy suites beside this one)
        // can keep the sender's task off the cooperative pool for more than 10 s.
        var timeout = timeval(tv_sec: 120, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit {
        close(fd)
        if let directory {
            unlink(path)
            rmdir(directory)
        }
    }

    /// The next datagram, or nil after the timeout.
    func receive() -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard count >= 0 else { return nil }
        return Array(buffer.prefix(count))
    }

    /// The next datagram as text.
    func receiveString() -> String? {
        receive().map { String(decoding: $0, as: UTF8.self) }
    }

    /// Whether a datagram is waiting, without blocking.
    func hasPendingDatagram() -> Bool {
        var byte: UInt8 = 0
        #if canImport(Glibc)
            let flags = Int32(MSG_DONTWAIT) | Int32(MSG_PEEK)
        #else
            let flags = MSG_DONTWAIT | MSG_PEEK
        #endif
        return recv(fd, &byte, 1, flags) >= 0
    }

    /// Waits for a datagram on a dispatch thread, keeping the blocking `recv` off Swift's small
    /// cooperative pool (2 threads on this machine) while an async sender needs it.
    func receiveStringOffPool() async -> String? {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(returning: self.receiveString())
            }
        }
    }
}

struct SocketError: Error, CustomStringConvertible {
    var call: String
    var code: Int32
    init(_ call: String, _ code: Int32) {
        self.call = call
        self.code = code
    }
    var description: String { "\(call): \(String(cString: strerror(code)))" }
}
