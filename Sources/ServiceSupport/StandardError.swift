import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Writes whole lines to file descriptor 2.
///
/// One `write(2)` per line, under a process-wide lock, so concurrent loggers never interleave
/// within a line (journald's stdout stream and pipes split records only at newlines). Unbuffered,
/// so nothing is lost when the process is killed after logging.
enum StandardError {
    private static let lock = Mutex(())

    static func write(_ line: String) {
        var bytes = Array(line.utf8)
        if bytes.last != UInt8(ascii: "\n") { bytes.append(UInt8(ascii: "\n")) }
        lock.withLock { _ in
            bytes.withUnsafeBytes { buffer in
                var offset = 0
                while offset < buffer.count {
                    #if canImport(Glibc)
                        let written = Glibc.write(2, buffer.baseAddress! + offset, buffer.count - offset)
                    #else
                        let written = Darwin.write(2, buffer.baseAddress! + offset, buffer.count - offset)
                    #endif
                    if written > 0 {
                        offset += written
                    } else if written < 0 && errno == EINTR {
                        continue
                    } else {
                        return  // stderr is gone or full: nowhere left to report that.
                    }
                }
            }
        }
    }
}
