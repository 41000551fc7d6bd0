/// Where a reader of finished orders stands: the `(finished_ms, id)` of the last order it read.
/// Rows are read in that order, so the next read starts strictly after it. Written as
/// `FINISHED_MS:ID` (e.g. `1796000000123:42`), which `closeorderd watch` prints on every line and
/// takes back with `--from`.
public struct FeedCursor: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let finishedMs: Int64
    public let id: Int64

    /// Before every finished order.
    public static let start = FeedCursor(finishedMs: 0, id: 0)

    public init(finishedMs: Int64, id: Int64) {
        self.finishedMs = finishedMs
        self.id = id
    }

    /// Parses `FINISHED_MS:ID`; the error names what was wrong with the text.
    public init(parsing text: String) throws(FeedCursorError) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2 else {
            throw FeedCursorError(text: text, problem: "it is not FINISHED_MS:ID (two numbers joined by a colon)")
        }
        guard let finishedMs = Int64(parts[0]), finishedMs >= 0 else {
            throw FeedCursorError(text: text, problem: "FINISHED_MS '\(parts[0])' is not a whole number of milliseconds ≥ 0")
        }
        guard let id = Int64(parts[1]), id >= 0 else {
            throw FeedCursorError(text: text, problem: "ID '\(parts[1])' is not a row id ≥ 0")
        }
        self.init(finishedMs: finishedMs, id: id)
    }

    public var description: String { "\(finishedMs):\(id)" }

    public static func < (lhs: FeedCursor, rhs: FeedCursor) -> Bool {
        (lhs.finishedMs, lhs.id) < (rhs.finishedMs, rhs.id)
    }
}

/// A cursor text that could not be read.
public struct FeedCursorError: Error, CustomStringConvertible {
    public let text: String
    public let problem: String
    public var description: String { "cursor '\(text)': \(problem)" }
}
