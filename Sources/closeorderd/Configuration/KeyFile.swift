import Foundation

#if canImport(Glibc)
    import Glibc
#endif
// The static Swift runtime's Foundation declares `stat` through CoreFoundation; naming it keeps
// MemberImportVisibility satisfied in both builds.
#if canImport(CoreFoundation)
    import CoreFoundation
#endif

/// Reads an API key file and says what is wrong with it in words ("does not exist", "is not
/// readable by this user"), not as a Foundation error domain and code.
enum KeyFile {
    /// A key is 32 characters; anything past this is not a key file.
    static let maximumSize = 4_096
    /// WeChat Pay v2 API keys are set on the merchant platform as 32 characters.
    static let expectedLength = 32

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// The file's text. The error names `path` and what is wrong with it, never the contents.
    static func read(_ path: String) throws(Failure) -> String {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw Failure(description: "\(path) \(reason(errno))") }
        defer { close(descriptor) }
        var info = stat()
        if fstat(descriptor, &info) == 0, info.st_mode & 0o170000 == 0o040000 {
            throw Failure(description: "\(path) is a folder, not a file")
        }
        var bytes = [UInt8](repeating: 0, count: maximumSize + 1)
        var count = 0
        while count < bytes.count {
            let n = bytes[count...].withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
            if n < 0, errno == EINTR { continue }
            guard n >= 0 else { throw Failure(description: "\(path) \(reason(errno))") }
            if n == 0 { break }
            count += n
        }
        guard count <= maximumSize else {
            throw Failure(description: "\(path) is larger than \(maximumSize) bytes; a key file holds one 32-character API key")
        }
        guard let text = String(validating: bytes[..<count], as: UTF8.self) else {
            throw Failure(description: "\(path) is not UTF-8 text")
        }
        return text
    }

    /// A warning when the key is not 32 characters (a wrong secret pasted, or a truncated copy).
    static func lengthWarning(_ text: String, path: String) -> String? {
        var key = Substring(text)
        if key.hasSuffix("\r\n") { key = key.dropLast(2) } else if key.hasSuffix("\n") { key = key.dropLast() }
        guard key.count != expectedLength else { return nil }
        return "the key in \(path) is \(key.count) characters long; WeChat Pay v2 API keys are \(expectedLength)"
    }

    static func reason(_ code: Int32) -> String {
        switch code {
        case ENOENT: "does not exist"
        case ENOTDIR: "does not exist (a part of the path is not a folder)"
        case EACCES: "is not readable by this user (uid \(getuid())); check its owner and mode"
        case EISDIR: "is a folder, not a file"
        default: "cannot be read: \(String(cString: strerror(code)))"
        }
    }
}
