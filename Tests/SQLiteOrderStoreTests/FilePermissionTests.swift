import Foundation
import GRDB
import Testing

@testable import SQLiteOrderStore

/// The merchant's app writes the daemon's database from its own user in the daemon's group
/// (README, "Install"), so every file of a database the daemon creates is group-writable.
@Suite struct FilePermissionTests {
    /// The mode bits of a file, or nil when it does not exist.
    static func mode(_ path: String) -> mode_t? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return info.st_mode & 0o7777
    }

    static func scratchDirectory() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("closeorderd-perm-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory
    }

    @Test func aFreshDatabaseAndItsWALAndSHMAreGroupWritable() throws {
        let directory = try Self.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("orders.sqlite").path

        let pool = try SQLiteDatabase.openMigrated(path: path)
        // The migration wrote through the WAL; the pool holds the -shm open.
        let files = [path, path + "-wal", path + "-shm"]
        let modes = files.map { Self.mode($0).map { String($0, radix: 8) } ?? "missing" }
        #expect(modes == ["660", "660", "660"], "modes of \(files.map { ($0 as NSString).lastPathComponent })")
        try pool.close()
    }

    @Test func anExistingDatabaseKeepsItsMode() throws {
        let directory = try Self.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("orders.sqlite").path
        #expect(FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600]))

        let pool = try SQLiteDatabase.openMigrated(path: path)
        #expect(Self.mode(path) == 0o600)
        try pool.close()
    }
}
