import Foundation
import GRDB
import NIOConcurrencyHelpers
import Testing

@testable import SQLiteOrderStore

/// The daemon waits for the merchant app's write lock by trying every millisecond (`LockWait`),
/// not on SQLite's own sleep schedule, which reaches 100 ms per try and misses an app's short gaps.
@Suite struct LockWaitTests {
    @Test(arguments: [(5.0, 5_000), (0.25, 250), (0.0005, 1), (0, 0), (-1, 0)])
    func theTimeoutIsSpentInOneMillisecondTries(timeout: Double, retries: Int) {
        let wait = LockWait(timeoutSeconds: timeout)
        #expect(wait.retries == retries)
        if retries > 0 { #expect(wait.triesAgain(after: retries - 1)) }
        #expect(!wait.triesAgain(after: retries))
    }

    @Test func noTimeoutMeansBusyAtOnce() {
        guard case .immediateError = LockWait(timeoutSeconds: 0).busyMode else {
            Issue.record("a 0 s busy timeout should fail at once")
            return
        }
    }

    @Test func theInstalledHandlerGivesUpAfterItsTries() throws {
        guard case .callback(let callback) = LockWait(timeoutSeconds: 0.003).busyMode else {
            Issue.record("LockWait should install its own busy callback")
            return
        }
        #expect(callback(0) && callback(1) && callback(2))
        #expect(!callback(3))
    }

    /// The defect, on real files: an app that holds the write lock 300 ms at a time with 3 ms
    /// between its transactions. SQLite's own handler, asleep 100 ms per try, lands in a gap about
    /// once in 100 tries, so a 3 s timeout mostly ran out (`SQLITE_BUSY`); trying every millisecond
    /// lands in one of the first gaps.
    @Test func aWriteFindsTheGapsOfAnAppThatHoldsTheLockMostOfTheTime() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("closeorderd-lockwait-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("orders.sqlite").path
        let pool = try SQLiteDatabase.openMigrated(path: path, busyTimeoutSeconds: 3)

        var appConfiguration = Configuration()
        appConfiguration.busyMode = .timeout(10)
        let app = try DatabaseQueue(path: path, configuration: appConfiguration)
        let done = NIOLockedValueBox(false)
        let (held, heldOnce) = AsyncStream.makeStream(of: Void.self)
        let appThread = Thread {
            // The app: 300 ms holding the lock, 3 ms free, until the daemon's write has landed.
            while !done.withLockedValue({ $0 }) {
                try? app.inDatabase { db in
                    try db.execute(sql: "BEGIN IMMEDIATE")
                    heldOnce.yield()
                    usleep(300_000)
                    try db.execute(sql: "COMMIT")
                }
                usleep(3_000)
            }
            heldOnce.finish()
        }
        appThread.start()
        defer { done.withLockedValue { $0 = true } }
        for await _ in held { break }

        // Throws SQLITE_BUSY ("database is locked") if no try landed in a gap within 3 s.
        try await pool.write { db in
            try db.execute(sql: "INSERT INTO daemon_state (key, value, updated_ms) VALUES ('lockwait-test', 'x', 0)")
        }
        done.withLockedValue { $0 = true }
        let written = try await pool.read { db in
            try String.fetchOne(db, sql: "SELECT value FROM daemon_state WHERE key = 'lockwait-test'")
        }
        #expect(written == "x")
    }
}
