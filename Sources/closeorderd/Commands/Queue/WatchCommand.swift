import ArgumentParser
import Foundation
import Logging
import OrderClosing
import PostgresOrderStore
import SQLiteOrderStore

#if canImport(Glibc)
    import Glibc
#endif

/// `closeorderd watch`: every finished order, once, in order, from a cursor on, as it happens.
struct WatchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Print each finished order (closed, paid, failed) as it happens, from a cursor on.",
        discussion: """
            Output: one JSON object per line and per order, in the order the orders finished: cursor, id, \
            finished_ms, finished_at (ISO-8601 UTC), mch_id, sub_mch_id, out_trade_no, status, outcome, \
            transaction_id, conflict, last_error, attempts (absent values are null). With --table: the same \
            as aligned text. Standard output is flushed after every line; messages go to standard error.

            Resuming: every line carries its cursor (FINISHED_MS:ID). Handle the line, store its cursor, and \
            start again with `--from` that cursor: nothing is skipped and nothing is printed twice, whatever \
            the daemons were doing meanwhile (the stores stamp each commit above every earlier one; README, \
            "Reading outcomes as they happen"). --from start reads every finished order still kept \
            (retention.keep_days); --from end only those that finish from now on.

            Waking: on SQLite it notices another process's commit through PRAGMA data_version, checked every \
            20 ms on one read-only connection (no query of the table until something changed); on PostgreSQL \
            it LISTENs on closeorderd_outcomes and reads again on each notification, and every 5 s in case one \
            was missed. A row the app marks paid appears too (outcome null), and appears once more if a close \
            raced it and set conflict; a requeued order appears again when it finishes again.

            Example, as a systemd unit or a script: closeorderd watch --from "$(cat cursor)" | my-app-consumer
            """
    )

    @OptionGroup var options: ConfigOptions

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Where to start: start, end, or a cursor FINISHED_MS:ID a line printed.",
            valueName: "cursor"))
    var from: String

    @Flag(help: "Aligned text instead of JSON lines.") var table = false
    @Flag(help: "Print what has finished so far and exit (the last cursor goes to standard error).") var once = false

    static let pageSize = 500

    func run() async throws {
        let start: FeedCursor?
        switch from {
        case "start": start = .start
        case "end": start = nil
        default:
            do { start = try FeedCursor(parsing: from) } catch {
                printError("watch: --from \(error)")
                throw ExitCode(64)
            }
        }
        try await withOperatorQueue(options) { queue in
            let source = try queue.watchSource()
            defer { source.close() }
            try await follow(source, from: start)
        }
    }

    func follow(_ source: WatchSource, from start: FeedCursor?) async throws {
        var cursor: FeedCursor
        if let start { cursor = start } else { cursor = try await source.feed.feedEnd() }
        printError("watch: from \(cursor)")
        let output = WatchOutput(table: table)
        var wakeups = source.wakeups.makeAsyncIterator()
        while true {
            let page = try await source.feed.finishedOrders(after: cursor, limit: Self.pageSize)
            for order in page {
                guard output.write(order) else { throw ExitCode(0) }  // the reader went away
                cursor = order.cursor
            }
            if page.count == Self.pageSize { continue }
            if once {
                printError("watch: up to date; resume with --from \(cursor)")
                return
            }
            guard await wakeups.next() != nil else { return }
        }
    }
}

/// The feed and what wakes its reader: made by `QueueBackend` for the queue it opened.
struct WatchSource {
    let feed: any OutcomeFeed
    let wakeups: AsyncStream<Void>
    let close: @Sendable () -> Void

    /// PostgreSQL: LISTEN on closeorderd_outcomes, and a read every 5 s in case a notification
    /// was missed. The pool runs while the queue is open (`QueueBackend.withQueue`).
    static func postgres(_ database: PostgresQueueDatabase) -> WatchSource {
        let notifications = database.outcomeNotifications { reason in
            printError("watch: LISTEN lost (\(reason)); reading every 5 s until it is back")
        }
        let (wakeups, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let listener = Task {
            for await _ in notifications { continuation.yield() }
        }
        let fallback = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(5))
                continuation.yield()
            }
        }
        return WatchSource(feed: database.store(), wakeups: wakeups) {
            listener.cancel()
            fallback.cancel()
        }
    }

    /// SQLite: one read-only connection that notices other processes' commits through
    /// `PRAGMA data_version` (the path, permissions and schema were checked when the queue opened).
    static func sqlite(path: String) throws -> WatchSource {
        let reader = try SQLiteFeedReader(path: path)
        let (wakeups, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let watcher = Task {
            var version = (try? reader.dataVersion()) ?? 0
            while !Task.isCancelled {
                guard let next = try? await reader.waitForCommit(after: version) else {
                    try? await Task.sleep(for: .seconds(1))  // busy or gone for a moment: look again
                    continue
                }
                version = next
                continuation.yield()
            }
            continuation.finish()
        }
        return WatchSource(feed: reader, wakeups: wakeups) { watcher.cancel() }
    }
}

/// Writes one order per line, each with one write(2) so that a reader never sees half a line,
/// even if this process is killed between two.
struct WatchOutput {
    let table: Bool

    /// False once standard output is gone (the reader exited).
    func write(_ order: FinishedOrder) -> Bool {
        let line = (table ? Self.tableLine(order) : Self.jsonLine(order)) + "\n"
        var bytes = Array(line.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeMutableBytes { Glibc.write(1, $0.baseAddress! + offset, $0.count - offset) }
            if written < 0 {
                if errno == EINTR { continue }
                return false
            }
            offset += written
        }
        bytes.removeAll()
        return true
    }

    static func jsonLine(_ order: FinishedOrder) -> String {
        func text(_ value: String?) -> String { value.map(jsonString) ?? "null" }
        return "{\"cursor\":\"\(order.cursor)\",\"id\":\(order.id),\"finished_ms\":\(order.finishedMs),"
            + "\"finished_at\":\"\(TimeText.iso8601(order.finishedMs))\",\"mch_id\":\(text(order.mchID)),"
            + "\"sub_mch_id\":\(text(order.subMchID)),\"out_trade_no\":\(text(order.outTradeNo)),"
            + "\"status\":\"\(order.status.rawValue)\",\"outcome\":\(text(order.outcome)),"
            + "\"transaction_id\":\(text(order.transactionID)),\"conflict\":\(text(order.conflict)),"
            + "\"last_error\":\(text(order.lastError)),\"attempts\":\(order.attempts)}"
    }

    static func tableLine(_ order: FinishedOrder) -> String {
        func cell(_ value: String?, _ width: Int) -> String {
            let text = value ?? "-"
            return text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
        }
        return [
            cell(TimeText.iso8601(order.finishedMs), 24), cell(order.cursor.description, 22), cell(order.mchID, 10),
            cell(order.outTradeNo, 32), cell(order.status.rawValue, 6), cell(order.outcome, 14),
            cell(order.transactionID, 28), order.conflict ?? order.lastError ?? "",
        ].joined(separator: " ")
    }

    /// A JSON string literal (RFC 8259 escapes).
    static func jsonString(_ value: String) -> String {
        var out = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
