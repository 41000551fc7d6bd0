import Foundation
import GRDB

@testable import SQLiteOrderStore

/// A real SQLite file in WAL mode migrated only up to an older schema version, to be filled the way
/// a merchant and an older closeorderd left it and then upgraded.
struct OlderSchemaDatabase {
    let directory: URL
    let path: String
    let pool: DatabasePool

    init(version: Int) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("closeorderd-v\(version)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        path = directory.appendingPathComponent("orders.sqlite").path
        pool = try SQLiteDatabase.open(path: path)
        try Migrations.migrate(pool, upTo: version)
    }

    func remove() {
        try? FileManager.default.removeItem(at: directory)
    }
}
