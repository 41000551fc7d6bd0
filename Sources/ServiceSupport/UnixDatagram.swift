#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Sends single datagrams to `AF_UNIX` `SOCK_DGRAM` sockets: the transport of both the journal's
/// native protocol and `sd_notify`.
///
/// Plain syscalls rather than SwiftNIO: each use is one fire-and-forget `sendto` from a
/// synchronous call site (a log handler, a notify), which an event loop would only complicate,
/// and this target deliberately depends on nothing but swift-log and ServiceLifecycle.
enum UnixDatagram {
    /// The errno of a failed send.
    struct SendError: Error, Equatable {
        var code: Int32
        var name: String { String(cString: strerror(code)) }
    }

    /// An unbound datagram socket, close-on-exec so children never inherit it; -1 on failure.
    static func openSocket() -> Int32 {
        #if canImport(Glibc)
            return socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        #else
            let fd = socket(AF_UNIX, SOCK_DGRAM, 0)
            if fd >= 0 { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
            return fd
        #endif
    }

    /// Sends `bytes` as one datagram to `path` (a leading `@` means the Linux abstract namespace,
    /// as in `NOTIFY_SOCKET`).
    static func send(_ bytes: [UInt8], on fd: Int32, to path: String) -> Result<Void, SendError> {
        guard fd >= 0 else { return .failure(SendError(code: EBADF)) }
        guard let (address, length) = address(for: path) else { return .failure(SendError(code: EINVAL)) }
        #if canImport(Glibc)
            let flags = Int32(MSG_NOSIGNAL)
        #else
            let flags: Int32 = 0
        #endif
        while true {
            let sent = bytes.withUnsafeBytes { buffer in
                withUnsafePointer(to: address) { pointer in
                    pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                        sendto(fd, buffer.baseAddress, buffer.count, flags, socketAddress, length)
                    }
                }
            }
            if sent >= 0 { return .success(()) }
            if errno != EINTR { return .failure(SendError(code: errno)) }
        }
    }

    /// Builds a `sockaddr_un`; nil when the path is empty, too long for `sun_path`, or contains NUL.
    static func address(for path: String) -> (sockaddr_un, socklen_t)? {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(path.utf8)
        guard let first = bytes.first else { return nil }
        let isAbstract = first == UInt8(ascii: "@")
        if isAbstract {
            bytes[0] = 0
        } else if bytes.contains(0) {
            return nil
        }
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        // A filesystem path needs room for its terminating NUL; an abstract name does not.
        guard isAbstract ? bytes.count <= capacity : bytes.count < capacity else { return nil }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let pathOffset = MemoryLayout<sockaddr_un>.offset(of: \.sun_path)!
        return (address, socklen_t(pathOffset + bytes.count + (isAbstract ? 0 : 1)))
    }
}
