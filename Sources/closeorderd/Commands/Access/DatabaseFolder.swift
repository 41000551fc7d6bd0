import ArgumentParser
import Foundation
import OrderClosing
import SQLiteOrderStore

/// What is wrong with the folder a database lives in, in words, checked before SQLite can say
/// only "SQLite error 14" (cannot open): the folder is missing or is not a folder. (Write access
/// is left to SQLite: an existing -wal and -shm can make a read-only folder workable.)
enum DatabaseFolder {
    static func problem(for path: String) -> String? {
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder) else {
            return
                "the folder \(folder) does not exist (database \(path)); create it, or name another with --database or database.path"
        }
        guard isFolder.boolValue else { return "\(folder) is not a folder (database \(path))" }
        return nil
    }

    static func exists(_ path: String) -> Bool {
        FileManager.default.fileExists(atPath: path)
    }

    /// What this user may not do with the database at `path`, in words; nil if nothing is known
    /// to be in the way. A folder it cannot search reads as "no database" to `fileExists`.
    static func denied(_ path: String, write: Bool) -> String? {
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
        let who = "uid \(getuid()), gid \(getgid())"
        if access(folder, X_OK) != 0, errno == EACCES {
            return
                "this user (\(who)) cannot enter \(folder), which holds the database \(path); run as a member of its group (closeorderd)"
        }
        guard access(path, F_OK) == 0 else { return nil }
        if access(path, write ? R_OK | W_OK : R_OK) != 0, errno == EACCES {
            return
                "this user (\(who)) cannot \(write ? "write" : "read") the database \(path); run as a member of its group (closeorderd)"
        }
        return nil
    }
}
