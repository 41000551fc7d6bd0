import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A loopback TCP port that cannot collide: this process binds 127.0.0.1:0 (the kernel picks a
/// free port) with SO_REUSEADDR and keeps the socket open without listening. While it is held,
/// Linux gives the port to no other `bind` (0 or explicit, unless that socket also set
/// SO_REUSEADDR and asks for this very port) and never as a `connect`'s ephemeral port; yet a
/// daemon told the port can bind it beside this socket (its listener sets SO_REUSEADDR too) and
/// listen. A port drawn at random, or bound to 0 and closed before the daemon starts, can be
/// taken by anyone in between.
///
/// `listening: true` occupies the port instead, as another program's server would.
final class ReservedPort: @unchecked Sendable {
    let port: Int
    private let descriptor: Int32

    init(listening: Bool = false) throws {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw POSIXError(.EMFILE) }
        var one: Int32 = 1
        setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, !listening || listen(descriptor, 1) == 0 else {
            close(descriptor)
            throw POSIXError(.EADDRINUSE)
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        self.descriptor = descriptor
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit { close(descriptor) }
}
