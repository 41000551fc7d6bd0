/// How log events leave the process.
///
/// `auto` exists so the same binary logs natively to the journal under systemd (structured,
/// queryable fields) and readable logfmt in a terminal or a container, with no configuration.
public enum LogFormat: String, Sendable, CaseIterable {
    /// `journal` when stderr is the journal's stream and its socket exists, else `logfmt`.
    case auto
    /// One `key=value` line per event on stderr.
    case logfmt
    /// One JSON object per line on stderr, for log shippers that parse JSON.
    case json
    /// The journal's native protocol, so metadata becomes fields `journalctl` can match on.
    case journal
}
