#if canImport(Glibc)
    import Glibc
#endif

/// Keeps a TCP port bound, without listening, while the fake simulates an outage.
///
/// A port that is simply closed goes back to the kernel: another test's server (bound to port 0)
/// can be given it, and a client meant to meet "connection refused" then reaches that server
/// instead, even as it shuts down and resets the connection. A socket that is bound but never
/// listens holds the port, and the kernel still answers every SYN to it with a reset, which is
/// exactly "connection refused".
///
/// Written on the C socket API because SwiftNIO's bootstraps always listen after binding.
final class PortHold: Sendable {
    private let descriptor: Int32

    /// Binds `host:port` (IPv4 loopback) without listening; nil if the port cannot be held.
    init?(host: String, port: Int) {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else { return nil }
        // SO_REUSEPORT as the fake's listener has it: the hold binds while the listener still
        // holds the port, and the next listener binds while the hold does. A server without it
        // (any other test's) conflicts with both, so the kernel never gives it this port. Not
        // SO_REUSEADDR: with it, any SO_REUSEADDR socket could bind over a socket that does not listen.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
        var on: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, socklen_t(MemoryLayout<Int32>.size))
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0 else {
            close(fd)
            return nil
        }
        descriptor = fd
    }

    /// Gives the port back (just before the fake listens on it again).
    func release() {
        close(descriptor)
    }
}
