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
        // First without SO_REUSEADDR, so no other server can bind over the hold; if connections
        // the fake closed still sit in TIME_WAIT on this port, that bind fails, and the hold
        // takes SO_REUSEADDR as the fake's listener did.
        for reuse in [false, true] {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { return nil }
            var on: Int32 = 1
            if reuse { _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size)) }
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            if bound == 0 {
                descriptor = fd
                return
            }
            close(fd)
        }
        return nil
    }

    /// Gives the port back (just before the fake listens on it again).
    func release() {
        close(descriptor)
    }
}
