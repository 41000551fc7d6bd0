/// A `daemon_state` row as what it holds, decoded by the store from its key:
///
/// | key                    | becomes                                              |
/// |------------------------|------------------------------------------------------|
/// | `circuit:<key>`        | `circuit`: a `PublishedCircuit` and when it was written |
/// | `pause:<mch_id>`       | `pause`: an operator's reason                        |
/// | `daemon:<owner>`       | `daemon`: a heartbeat row, last seen at its write    |
/// | other, or unreadable   | `fact` (heartbeat, endpoint …), as written           |
public enum DaemonStateRow: Sendable, Hashable {
    case circuit(key: String, PublishedCircuit, publishedMs: Int64)
    case pause(mchID: String, reason: String)
    case daemon(DaemonRecord)
    case fact(key: String, value: String)

    /// The row `key` = `value`, written at `updatedMs`; `decode` reads a heartbeat row's value
    /// (nil if it cannot: the row is then a `fact`).
    public init(key: String, value: String, updatedMs: Int64, decode: (String) -> DaemonRecord?) {
        if key.hasPrefix(Self.circuitPrefix) {
            self = .circuit(
                key: String(key.dropFirst(Self.circuitPrefix.count)), PublishedCircuit(published: value),
                publishedMs: updatedMs)
        } else if key.hasPrefix(Self.pausePrefix) {
            self = .pause(mchID: String(key.dropFirst(Self.pausePrefix.count)), reason: value)
        } else if key.hasPrefix(Self.daemonPrefix), var record = decode(value) {
            record.lastSeenMs = updatedMs
            self = .daemon(record)
        } else {
            self = .fact(key: key, value: value)
        }
    }

    static let circuitPrefix = "circuit:"
    static let pausePrefix = "pause:"
    static let daemonPrefix = "daemon:"
}
