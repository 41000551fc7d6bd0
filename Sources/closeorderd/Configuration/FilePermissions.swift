import Foundation

#if canImport(Glibc)
    import Glibc
#endif
// The static Swift runtime's Foundation declares `stat` through CoreFoundation; naming it keeps
// MemberImportVisibility satisfied in both builds.
#if canImport(CoreFoundation)
    import CoreFoundation
#endif

/// What is checked on a file the daemon reads a secret or a trust anchor from, before it is used.
/// Whoever can write a trust file can forge every answer it verifies (a WeChat Pay public key, a
/// CA), and whoever can write a key file can swap the key; so both must belong to root, to the
/// user reading them, or to the daemon's user `closeorderd` (root's `check-config` reads the
/// daemon's keys), and be writable by no one else.
///
/// | file                                                  | writable by group/others | owner none of those          | readable by others | readable by group |
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
        if !trustedOwners.contains(info.st_uid) {
            return "\(what) \(path) belongs to uid \(info.st_uid), neither root, this user (uid \(geteuid())) nor \(daemonUser), "
                + "so that user could change it; chown root (or \(daemonUser)) it"
        }
        if info.st_mode & 0o002 != 0 {
            return "\(what) \(path) is writable by every user (mode \(mode)), who could replace it; chmod go-w it"
        }
        if info.st_mode & 0o020 != 0 {
            return "\(what) \(path) is writable by its group (mode \(mode)), whose members could replace it; chmod go-w it"
        }
        return nil
    }

    /// The system user the unit runs the daemon as (sysusers.d).
    static let daemonUser = "closeorderd"

    /// Root, the user reading, and the daemon's user when it exists.
    static var trustedOwners: Set<uid_t> {
        var owners: Set<uid_t> = [0, geteuid()]
        if let entry = getpwnam(daemonUser) { owners.insert(entry.pointee.pw_uid) }
        return owners
    }

    /// Warns about a secret others can read: keys must be readable by the daemon alone.
    static func warnings(for path: String, what: String) -> [String] {
        var info = stat()
        guard stat(path, &info) == 0 else { return [] }
        if info.st_mode & 0o004 != 0 {
            return ["\(what) \(path) is readable by every user (mode \(String(info.st_mode & 0o777, radix: 8))); chmod o-r it"]
        }
        if what == "key file", info.st_mode & 0o040 != 0 {
            return ["\(what) \(path) is readable by its group (mode \(String(info.st_mode & 0o777, radix: 8))); chmod 600 it"]
        }
        return []
    }
}
