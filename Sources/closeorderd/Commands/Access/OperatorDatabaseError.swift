import ArgumentParser
import OrderClosing

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
            "the config is invalid (`run` would refuse it; `closeorderd check-config` says more): "
                + problems.joined(separator: "; ")
        case .permissionDenied(let text): "permission denied: \(text)"
        case .unreachable(let text): text
        }
    }
}
