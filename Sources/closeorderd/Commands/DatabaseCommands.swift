import ArgumentParser
import Foundation
import GRDB
import Logging
import OrderClosing
import PostgresOrderStore
import SQLiteOrderStore
import ServiceSupport

/// Opens the database named by `--database` or the config. The config is validated as `run`
/// validates it (its keys aside, which an operator may not be able to read): a config `run` would
/// refuse never sends a command to another database, such as the default SQLite path behind a
/// `database.url` that did not parse.
struct DatabaseLocator {
    let options: ConfigOptions

    /// The config, or `OperatorDatabaseError.invalidConfig` naming every problem. With no config
    /// file, `--database` alone names the queue (with the standard due policy); neither is an error.
    func config() async throws -> DaemonConfig {
        let loader = ConfigLoader(path: options.config)
        guard loader.path != nil else {
            if options.database != nil { return DaemonConfig() }
            throw OperatorDatabaseError.invalidConfig(["no config file (--config, $CLOSEORDERD_CONFIG or \(ConfigLoader.defaultPath)) "
                                                       + "and no --database: say which queue"])
        }
        let loaded = await loader.load()
        guard loaded.problems.isEmpty else { throw OperatorDatabaseError.invalidConfig(loaded.problems) }
        return loaded.config
    }

    func path() async throws -> String {
        let config = try await config()
        return options.database ?? config.databasePath
    }

    /// The config's `database.url`, unless `--database` names a SQLite file.
    func postgres() async throws -> PostgresDatabaseConfig? {
        let config = try await config()
        return options.database == nil ? config.postgres : nil
    }

    func open(migrate: Bool = false, readonly: Bool = true) async throws -> DatabasePool {
        let path = try await path()
        if let problem = DatabaseFolder.problem(for: path) { throw StoreErrorMessage(problem) }
        if let denied = DatabaseFolder.denied(path, write: !readonly) { throw OperatorDatabaseError.permissionDenied(denied) }
        do {
            if migrate { return try SQLiteDatabase.openMigrated(path: path) }
            guard FileManager.default.fileExists(atPath: path) else {
                throw OperatorDatabaseError.unreachable("no database at \(path) (run `closeorderd migrate` first, or pass --database)")
            }
            return try SQLiteDatabase.openExisting(path: path, readonly: readonly)
        } catch let error as OperatorDatabaseError {
            throw error
        } catch {
            throw StoreErrorMessage("\(error)")
        }
    }
}

/// Why an operator command could not reach the queue, sorted as `status --check` reports it.
enum OperatorDatabaseError: Error, CustomStringConvertible {
    /// The config `run` would refuse: the command's own failure (UNKNOWN).
    case invalidConfig([String])
    /// This user may not read (or write) the database: the command's own failure (UNKNOWN).
    case permissionDenied(String)
    /// The database is not there or does not answer: what monitoring must hear (CRITICAL).
    case unreachable(String)

    var description: String {
        switch self {
        case .invalidConfig(let problems):
            "the config is invalid (`run` would refuse it; `closeorderd check-config` says more): " + problems.joined(separator: "; ")
        case .permissionDenied(let text): "permission denied: \(text)"
        case .unreachable(let text): text
        }
    }
}

/// What is wrong with the folder a database lives in, in words, checked before SQLite can say
/// only "SQLite error 14" (cannot open): the folder is missing or is not a folder. (Write access
/// is left to SQLite: an existing -wal and -shm can make a read-only folder workable.)
enum DatabaseFolder {
    static func problem(for path: String) -> String? {
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder) else {
            return "the folder \(folder) does not exist (database \(path)); create it, or name another with --database or database.path"
        }
        guard isFolder.boolValue else { return "\(folder) is not a folder (database \(path))" }
        return nil
    }

    /// What this user may not do with the database at `path`, in words; nil if nothing is known
    /// to be in the way. A folder it cannot search reads as "no database" to `fileExists`.
    static func denied(_ path: String, write: Bool) -> String? {
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
        let who = "uid \(getuid()), gid \(getgid())"
        if access(folder, X_OK) != 0, errno == EACCES {
            return "this user (\(who)) cannot enter \(folder), which holds the database \(path); run as a member of its group (closeorderd)"
        }
        guard access(path, F_OK) == 0 else { return nil }
        if access(path, write ? R_OK | W_OK : R_OK) != 0, errno == EACCES {
            return "this user (\(who)) cannot \(write ? "write" : "read") the database \(path); run as a member of its group (closeorderd)"
        }
        return nil
    }
}

struct StoreErrorMessage: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Create or upgrade the database schema (pending_orders, close_attempts).",
        discussion: """
            Applies the numbered files of migrations/ (embedded in the binary) that the database lacks, each in \
            its own transaction, and records them in schema_migrations. Safe to run again. Refuses a database \
            whose schema is newer than this closeorderd.
            """
    )

    @OptionGroup var options: ConfigOptions

    func run() async throws {
        let locator = DatabaseLocator(options: options)
        let postgres: PostgresDatabaseConfig?, path: String
        do {
            (postgres, path) = (try await locator.postgres(), try await locator.path())
        } catch {
            printError("error: \(error)")
            throw ExitCode(1)
        }
        if let postgres {
            try await migrate(postgres)
            return
        }
        if let problem = DatabaseFolder.problem(for: path) {
            printError("error: \(problem)")
            throw ExitCode(1)
        }
        do {
            let pool = try SQLiteDatabase.open(path: path)
            let applied = try Migrations.migrate(pool)
            let version = try Migrations.currentVersion(pool)
            print(applied.isEmpty ? "migrate: \(path) is up to date (schema version \(version))"
                                  : "migrate: applied \(applied.map(String.init).joined(separator: ", ")) to \(path) (schema version \(version))")
        } catch {
            printError("error: \(error)")
            throw ExitCode(1)
        }
    }
}

extension MigrateCommand {
    /// `migrate` on PostgreSQL: under the advisory lock, so daemons starting meanwhile wait.
    func migrate(_ settings: PostgresDatabaseConfig) async throws {
        let logger = Logger(label: "closeorderd.migrate", factory: { _ in SwiftLogNoOpLogHandler() })
        do {
            let database = try settings.open(logger: logger)
            try await database.probe()
            let pool = Task { _ = try? await database.run() }
            defer { pool.cancel() }
            let applied = try await database.migrate()
            let version = try await database.schemaVersion()
            let place = settings.url.display
            print(applied.isEmpty ? "migrate: \(place) is up to date (schema version \(version))"
                                  : "migrate: applied \(applied.map(String.init).joined(separator: ", ")) to \(place) (schema version \(version))")
        } catch {
            printError("error: \(error)")
            throw ExitCode(1)
        }
    }
}

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show orders by status, the oldest overdue order, in-doubt orders and merchant circuits.",
        discussion: """
            Reads the database only; works whether or not the daemon is running. --json prints the same report as one \
            object whose fields are stable for scripts: counts, overdue, oldest_overdue {out_trade_no, mch_id, \
            overdue_seconds, due_at}, in_doubt, failed_last_day, circuits {key: {state, until, reason, since}}, \
            pauses {mch_id: reason}, daemons [{owner, host, pid, version, started_at, last_seen_at, \
            last_seen_seconds_ago, stale}]; times are ISO-8601 UTC. --check prints one line and exits \
            0 (ok), 1 (warning: overdue past --overdue-warning, a circuit open or merchant paused, orders failed \
            in the last 24 h), 2 (critical: overdue past --overdue-critical, no live daemon, or the database \
            unreachable) or 3 (unknown: the check itself failed — an invalid config, permission denied).
            """
    )

    @OptionGroup var options: ConfigOptions
    @Flag(help: "Print JSON instead of text.") var json = false
    @Flag(help: "For monitoring: one line, exit 0 ok / 1 warning / 2 critical / 3 unknown (see --help).") var check = false
    @Option(name: .customLong("overdue-warning"), help: "With --check: warn when the oldest overdue order is this many seconds past due.")
    var overdueWarning: Int64 = 300
    @Option(name: .customLong("overdue-critical"), help: "With --check: critical past this many seconds.") var overdueCritical: Int64 = 600

    func run() async throws {
        if check { try await runCheck() }
        let database = try await openOrExit(options)
        defer { database.close() }
        let now = SystemOrderClock().now()
        let report = try await database.store.status(now: now)
        if json {
            print(try encodeJSON(report))
            return
        }
        for status in OrderStatus.allCases {
            print("\(status.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0)) \(report.counts[status.rawValue] ?? 0)")
        }
        print("overdue: \(report.overdue) (undecided orders past their own due time)")
        if let overdue = report.oldestOverdue {
            print("oldest overdue: \(shown(overdue.outTradeNo)) (mch_id \(shown(overdue.mchID))), due \(overdue.dueAt), "
                  + "\(TimeText.relative(now - Int64(overdue.overdueSeconds * 1000), now: now))")
        }
        print("in doubt: \(report.inDoubt)")
        print("failed in the last 24 h: \(report.failedLastDay)")
        if report.circuits.isEmpty { print("merchant circuits: all closed") }
        for (mchID, reason) in report.pauses.sorted(by: { $0.key < $1.key }) { print("merchant \(shown(mchID)) paused by an operator: \(shown(reason))") }
        for (mchID, circuit) in report.circuits.sorted(by: { $0.key < $1.key }) { print("merchant \(shown(mchID)) circuit: \(shown(circuit.text))") }
        if report.daemons.isEmpty { print("daemons: none running (no heartbeat row)") }
        for daemon in report.daemons {
            let age = TimeText.relative(now - daemon.lastSeenSecondsAgo * 1000, now: now)
            print("daemon \(shown(daemon.owner)) (\(shown(daemon.version)), pid \(daemon.pid)): started \(daemon.startedAt), last seen \(age)"
                  + (daemon.stale ? " — STALE: missed three heartbeats" : ""))
        }
        if let heartbeat = report.daemon["heartbeat"] { print("last heartbeat: \(shown(heartbeat))") }
    }
}

extension StatusCommand {
    /// `--check`: always one line and the monitoring exit code, also when the report cannot be read.
    func runCheck() async throws -> Never {
        let verdict: (level: StatusCheck.Level, line: String)
        do {
            let database = try await OperatorDatabase.open(options, readonly: true)
            defer { database.close() }
            let report = try await database.store.status(now: SystemOrderClock().now())
            verdict = StatusCheck(overdueWarningSeconds: overdueWarning, overdueCriticalSeconds: overdueCritical).verdict(report)
        } catch {
            verdict = StatusCheck.verdict(failure: error)
        }
        print(shown(verdict.line))
        throw ExitCode(verdict.level.rawValue)
    }
}

struct ShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show one order's row and every attempt made for it.",
        discussion: "Lists every merchant's order with that out_trade_no unless --mch-id narrows it. Exits 1 if there is none."
    )

    @OptionGroup var options: ConfigOptions
    @Argument(help: "The order's out_trade_no.") var outTradeNo: String
    @Option(name: .customLong("mch-id"), help: "Only this merchant's order.") var mchID: String?
    @Flag(help: "Print JSON instead of text.") var json = false

    func run() async throws {
        let database = try await openOrExit(options)
        defer { database.close() }
        let details = try await database.store.show(outTradeNo: outTradeNo, mchID: mchID)
        guard !details.isEmpty else {
            printError("show: no order with out_trade_no \(outTradeNo)\(mchID.map { " for mch_id \($0)" } ?? "")")
            throw ExitCode(1)
        }
        if json {
            print(try encodeJSON(details))
            return
        }
        let now = SystemOrderClock().now()
        /// Times as people read them: unix ms columns in ISO-8601 with a relative form, created_at too.
        func readable(_ column: String, _ value: FieldValue) -> String {
            guard case .int(let number) = value, column != "duration_ms" else { return shown(value.description) }
            if column.hasSuffix("_ms") { return TimeText.both(number, now: now) }
            if column == "created_at" { return "\(number) (\(TimeText.both(number * 1000, now: now)))" }
            return value.description
        }
        for detail in details {
            for column in detail.order.keys.sorted() where detail.order[column] != .null && !column.hasPrefix("lease") {
                print("\(column): \(readable(column, detail.order[column]!))")
            }
            print("close_attempts (\(detail.attempts.count)):")
            for attempt in detail.attempts {
                let fields = ["attempt", "operation", "started_ms", "duration_ms", "endpoint", "http_status", "return_code",
                              "return_msg", "result_code", "err_code", "err_code_des", "outcome", "error"]
                print("  " + fields.compactMap { key in
                    guard let value = attempt[key], value != .null else { return nil }
                    // key=value tokens hold no spaces: the start as ISO-8601 alone.
                    if key == "started_ms", case .int(let ms) = value { return "started=\(TimeText.iso8601(ms))" }
                    return "\(key)=\(shown(value.description))"
                }.joined(separator: " "))
            }
        }
    }
}

struct RequeueCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "requeue",
        abstract: "Move failed orders back to pending, with a fresh attempt budget.",
        discussion: """
            Requeued orders are due at once. Only failed orders are touched; give out_trade_nos or --all-failed. \
            Each named order that is not requeued is listed with the reason. Exits 1 if none was requeued.
            """
    )

    @OptionGroup var options: ConfigOptions
    @Argument(help: "The out_trade_no of each failed order to requeue.") var outTradeNos: [String] = []
    @Option(name: .customLong("mch-id"), help: "Only this merchant's orders.") var mchID: String?
    @Flag(name: .customLong("all-failed"), help: "Requeue every failed order.") var allFailed = false
    @Flag(name: .customLong("dry-run"), help: "Say what would change, change nothing.") var dryRun = false

    func validate() throws {
        if outTradeNos.isEmpty == !allFailed { throw ValidationError("give one or more out_trade_nos, or --all-failed") }
    }

    func run() async throws {
        let database = try await openOrExit(options, readonly: dryRun)
        defer { database.close() }
        let report = try await database.store.requeue(outTradeNos: outTradeNos, mchID: mchID, allFailed: allFailed,
                                                                  now: SystemOrderClock().now(), dryRun: dryRun)
        print("requeue: \(report.moved) failed order(s) \(dryRun ? "would be" : "") moved back to pending".replacingOccurrences(of: "  ", with: " "))
        if !dryRun, report.moved > 0 {
            OperatorLog.notice("requeue: \(report.moved) failed order(s) moved back to pending: \(allFailed ? "all failed" : outTradeNos.joined(separator: ", "))",
                               ["action": "requeue", "count": .stringConvertible(report.moved)])
        }
        for skipped in report.skipped {
            let order = shown(skipped.outTradeNo) + (skipped.mchID.map { " (mch_id \(shown($0)))" } ?? "")
            print("requeue: \(order): skipped, \(skipped.reason)")
        }
        if report.moved == 0, !allFailed { throw ExitCode(1) }
    }
}

/// Database text (WeChat's words, error texts, what a daemon published) with control characters
/// escaped as the log handlers escape them, so a row cannot move the cursor, recolour the
/// terminal or fake a line of output.
func shown(_ text: String) -> String {
    LogfmtLogHandler.escapingControlCharacters(text)
}

func encodeJSON(_ value: some Encodable) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    encoder.keyEncodingStrategy = .convertToSnakeCase
    return String(decoding: try encoder.encode(value), as: UTF8.self)
}
