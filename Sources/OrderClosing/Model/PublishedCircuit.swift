import Foundation

/// A merchant's circuit as a daemon publishes it in `daemon_state` (`circuit:<key>`), the one
/// type its writer (`ClosingService`) and its readers (`StatusReport`, `status`, `resume`) share,
/// as JSON. A row belongs to the daemon that wrote it and ends with what ended it:
///
/// | row                                      | shown as current by `status` |
/// |------------------------------------------|------------------------------|
/// | `open`, `until` still ahead, owner alive | yes                          |
/// | `open`, `until` passed                   | no: the pause is over        |
/// | `paused` (key unusable), owner alive     | yes                          |
/// | owner's heartbeat gone or stale          | no: the daemon ended         |
/// | `closed`, `half_open`                    | no: nothing to alert on      |
///
/// A daemon publishes `closed` when a merchant leaves its config; `resume` publishes `closed`.
public struct PublishedCircuit: Sendable, Codable, Hashable {
    public enum State: String, Sendable, Codable {
        case open, halfOpen = "half_open", closed, paused
    }

    public let state: State
    /// When an open circuit is probed again (unix ms).
    public let untilMs: Int64?
    public let reason: String?
    /// The daemon that wrote it (its lease owner), or who cleared it (`operator`); nil in a row
    /// an older closeorderd wrote as text.
    public let owner: String?

    public init(state: State, untilMs: Int64? = nil, reason: String? = nil, owner: String?) {
        self.state = state
        self.untilMs = untilMs
        self.reason = reason
        self.owner = owner
    }

    /// The row's value.
    public var encoded: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self)
    }

    /// Reads a row's value: JSON, or the text older daemons wrote (`open until ISO: reason`,
    /// `paused: reason`, `half_open`, `closed`).
    public init(published text: String) {
        if text.hasPrefix("{"), let decoded = try? JSONDecoder().decode(Self.self, from: Data(text.utf8)) {
            self = decoded
        } else if text.hasPrefix("open until "), let colon = text.range(of: ": ") {
            let iso = String(text[text.index(text.startIndex, offsetBy: 11)..<colon.lowerBound])
            self.init(state: .open, untilMs: Self.unixMs(iso8601: iso), reason: String(text[colon.upperBound...]), owner: nil)
        } else if text.hasPrefix("paused: ") {
            self.init(state: .paused, reason: String(text.dropFirst(8)), owner: nil)
        } else {
            self.init(state: State(rawValue: text) ?? .closed, owner: nil)
        }
    }

    static func unixMs(iso8601 text: String) -> Int64? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.date(from: text).map { Int64(($0.timeIntervalSince1970 * 1000).rounded()) }
    }

    /// Whether it still holds at `now`, given the owners whose heartbeat is live (the table above).
    public func isCurrent(now: Int64, liveOwners: Set<String>) -> Bool {
        if let owner, !liveOwners.contains(owner) { return false }
        switch state {
        case .open: return (untilMs ?? .max) > now
        case .paused: return true
        case .halfOpen, .closed: return false
        }
    }
}
