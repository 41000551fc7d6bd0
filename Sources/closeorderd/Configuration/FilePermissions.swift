import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What is checked on a file the daemon reads a secret or a trust anchor from, before it is used.
/// Whoever can write a trust file can forge every answer it verifies (a WeChat Pay public key, a
/// CA), and whoever can write a key file can swap the key; so both must belong to root or to the
/// daemon's own user and be writable by no one else.
///
/// | file                                                  | writable by group/others | owner not root nor this user | readable by others | readable by group |
/// |-------------------------------------------------------|--------------------------|------------------------------|--------------------|-------------------|
/// | secret: API key, private key, APIv3 key, password     | refused                  | refused                      | warned             | warned            |
/// | trust: WeChat Pay public key, `ca_file`, `sslrootcert` | refused                  | refused                      | fine               | fine              |
/// | config file                                           | -                        | -                            | warned             | fine              |
enum FilePermissions {
    /// Why `path` must not be believed, or nil when its owner and mode are fine (or it cannot be
    /// stat'ed: reading it then says why).
    static func refusal(for path: String, what: String) -> String? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        let mode = String(info.st_mode & 0o777, radix: 8)
        if info.st_uid != 0, info.st_uid != geteuid() {
            return "\(what) \(path) belongs to uid \(info.st_uid), neither root nor this user (uid \(geteuid())), who could change it; "
                + "chown root (or this user) it"
        }
        if info.st_mode & 0o002 != 0 {
            return "\(what) \(path) is writable by every user (mode \(mode)), who could replace it; chmod go-w it"
        }
        if info.st_mode & 0o020 != 0 {
            return "\(what) \(path) is writable by its group (mode \(mode)), whose members could replace it; chmod go-w it"
        }
        return nil
    }

    /// Warns about a secret others can read: keys must be readable by the daemon alone.
    static func warnings(for path: String, what: String) -> [String] {
        var info = stat()
        guard stat(path, &info) == 0 else { return [] }
        if info.st_mode & 0o004 != 0 { return ["\(what) \(path) is readable by every user (mode \(String(info.st_mode & 0o777, radix: 8))); chmod o-r it"] }
        if what == "key file", info.st_mode & 0o040 != 0 {
            return ["\(what) \(path) is readable by its group (mode \(String(info.st_mode & 0o777, radix: 8))); chmod 600 it"]
        }
        return []
    }
}
