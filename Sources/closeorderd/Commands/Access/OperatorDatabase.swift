import ArgumentParser
import Logging
import OrderClosing

/// Opens the queue an operator command works on — the SQLite file (`--database` or
/// `database.path`) or the PostgreSQL database (`database.url`), as `run` and `migrate` pick it —
/// and runs the command's body on it. The schema must be current: a command never migrates by
/// surprise, and says to run `closeorderd migrate` instead. On SQLite a command that does not
/// `write` opens the file read-only (PostgreSQL's permissions are the server's business).
enum OperatorDatabase {
    /// Throws what kept the queue from opening (`OperatorDatabaseError` where it is known), or
    /// what the body threw.
    static func withQueue<T: Sendable>(
        _ options: ConfigOptions, write: Bool = false,
        _ body: (OpenedQueue) async throws -> T
    ) async throws -> T {
        let logger = Logger(label: "closeorderd.cli", factory: { _ in SwiftLogNoOpLogHandler() })
        do {
            let (backend, due) = try await DatabaseLocator(options: options).backend()
            return try await backend.withQueue(.operator(write: write), due: due, logger: logger, body)
        } catch let unreachable as QueueBackend.Unreachable {
            throw OperatorDatabaseError.unreachable(unreachable.description)
        }
    }
}

/// Runs the body on the queue the options name; when the queue cannot be opened, prints why and
/// exits 1 (what the body throws goes on as it is).
func withOperatorQueue<T: Sendable>(
    _ options: ConfigOptions, write: Bool = false,
    _ body: (OpenedQueue) async throws -> T
) async throws -> T {
    var opened = false
    do {
        return try await OperatorDatabase.withQueue(options, write: write) { queue in
            opened = true
            return try await body(queue)
        }
    } catch  where !opened {
        printError("error: \(error)")
        throw ExitCode(1)
    }
}
