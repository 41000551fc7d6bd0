import ArgumentParser
import Foundation
import Logging
import OrderClosing
import SQLiteOrderStore

/// `prune`: by hand, what the daemon's retention does on its own — delete finished orders (with
/// their attempts) older than a number of days, in short spaced batches, then give the space back.
struct PruneCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune",
        abstract: "Delete finished orders (closed, paid, failed) older than DAYS, with their attempts.",
        discussion: """
            An order's age is counted from when it finished (a row your app marked paid: from its created_at). \
            Pending and closing orders are never deleted. It deletes in batches of 300 orders, each a short \
            transaction with a rest after it, so it is safe while the daemon and your app run; the daemon does \
            the same by itself with retention.keep_days. Prints how many orders and attempts were (or, with \
            --dry-run, would be) deleted, by status. Freed space is then given back to the filesystem if the \
            database uses incremental auto-vacuum (every database created by closeorderd since schema version 4). \
            --vacuum switches an older database to it once: a full VACUUM, which holds the write lock while it \
            rewrites the file (your app's writes wait) and needs as much free disk as the file's size; run it in \
            a quiet hour.
            """
    )

    @OptionGroup var options: ConfigOptions
    @Option(
        name: .customLong("older-than"),
        help: ArgumentHelp(
            "Delete orders that finished at least this many days ago (1 or more).",
            valueName: "days"))
    var olderThan: Int?
    @Flag(name: .customLong("dry-run"), help: "Count what would be deleted; change nothing.") var dryRun = false
    @Flag(
        help:
            "Switch the database to incremental auto-vacuum (a one-off full VACUUM) if it is not, then give all free space back.")
    var vacuum = false

    func validate() throws {
        if let olderThan, olderThan < 1 {
            throw ValidationError(
                "--older-than must be a whole number of days, at least 1 (got \(olderThan)); finished orders younger than a day are kept for your app to read"
            )
        }
        if olderThan == nil, !vacuum { throw ValidationError("give --older-than DAYS (and/or --vacuum)") }
        if dryRun, vacuum { throw ValidationError("--dry-run and --vacuum do not go together: --vacuum changes the file") }
    }

    func run() async throws {
        try await withOperatorQueue(options, write: !dryRun) { database in
            if vacuum, database.sqliteFile == nil {
                printError(
                    "prune: --vacuum is for SQLite; on PostgreSQL autovacuum gives the space of deleted rows back by itself")
                throw ExitCode(1)
            }
            do {
                if let olderThan { try await prune(database.store, database.sqliteFile, days: olderThan) }
                if vacuum, let file = database.sqliteFile { try await switchVacuumMode(file, store: database.store) }
            } catch let exit as ExitCode {
                throw exit
            } catch {
                printError("prune: \(error)")
                throw ExitCode(1)
            }
        }
    }

    /// `file`: the SQLite file, to say whether it gives space back; nil on PostgreSQL.
    func prune(_ store: any OrderStore, _ file: SQLiteQueueFile?, days: Int) async throws {
        let clock = SystemOrderClock()
        var settings = RetentionSchedule.Settings(keepDays: days)
        if vacuum { settings.reclaimPages = 0 }  // --vacuum gives everything back below
        let cutoff = clock.now() - settings.keepMs
        let before = "finished before \(TimeText.iso8601(cutoff)) (\(days) day(s) ago)"
        if dryRun {
            let counted = try await store.countFinishedOrders(finishedBefore: cutoff)
            print("prune: would delete \(counted.total) order(s) \(before): \(counted.byStatus); \(counted.attempts) attempt(s)")
            return
        }
        var schedule = RetentionSchedule(settings: settings, now: clock.now())
        let step = RetentionStep(store: store, clock: clock)
        var round: RetentionSchedule.Round?
        while round == nil {
            round = try await step.run(&schedule, idle: true) { until in try await clock.sleep(until: until) }
        }
        guard let round else { return }
        let line =
            "deleted \(round.pruned.total) order(s) \(before): \(round.pruned.byStatus); \(round.pruned.attempts) attempt(s), in \(round.batches) batch(es)"
        print("prune: \(line)")
        if round.pruned.total > 0 {
            OperatorLog.notice("prune: \(line)", ["action": "prune", "count": .stringConvertible(round.pruned.total)])
        }
        if !vacuum, let file, try await file.autoVacuumMode() != .incremental {
            print(
                "prune: this database keeps freed pages for reuse but does not give them back (auto_vacuum is not incremental); `closeorderd prune --vacuum` switches it once"
            )
        }
    }

    func switchVacuumMode(_ file: SQLiteQueueFile, store: any OrderStore) async throws {
        let sizeBefore = try await file.bytes()
        if try await file.autoVacuumMode() != .incremental {
            print(
                "prune: vacuum: rewriting the database (\(Self.mebibytes(sizeBefore))) to switch to incremental auto-vacuum; writes wait until it is done"
            )
            try await file.useIncrementalVacuum()
            OperatorLog.notice("prune: the database was rewritten (VACUUM) to give space back from now on", ["action": "vacuum"])
        } else {
            var left = try await store.reclaimFreeSpace(pages: 256)
            while left > 0 {
                try await Task.sleep(for: .milliseconds(20))  // a rest between steps, for the app's writes
                let next = try await store.reclaimFreeSpace(pages: 256)
                if next >= left { break }
                left = next
            }
        }
        try await file.checkpoint()
        let sizeAfter = try await file.bytes()
        print(
            "prune: vacuum: the database is \(Self.mebibytes(sizeAfter)) (was \(Self.mebibytes(sizeBefore))); free space is given back from now on"
        )
    }

    static func mebibytes(_ bytes: Int) -> String { String(format: "%.1f MiB", Double(bytes) / 1_048_576) }
}
