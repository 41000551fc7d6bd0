import Logging
import OrderClosing
import PostgresNIO
import ServiceLifecycle

/// LISTENs on `closeorderd_orders` (migration 2's trigger: a new row, or a row set to paid) and
/// nudges the closing loop, so an order the app wrote already due, or back-dated, is claimed at
/// once rather than at the next poll. Holds one pooled connection while listening.
///
/// A lost connection (PostgreSQL restarted, a network cut) is said once at warning level; the
/// listener tries again after 1, 2, 4 … 30 s, and the loop polls meanwhile, so nothing is missed:
/// on every (re)connection it nudges once, for rows written while nobody listened.
public struct PostgresQueueListener: Service {
    public static let channel = "closeorderd_orders"

    let database: PostgresQueueDatabase
    let nudges: QueueNudges
    let logger: Logger

    public init(database: PostgresQueueDatabase, nudges: QueueNudges, logger: Logger) {
        self.database = database
        self.nudges = nudges
        self.logger = logger
    }

    public func run() async throws {
        try? await cancelWhenGracefulShutdown {
            var failures = 0
            while !Task.isCancelled {
                do {
                    try await database.client.withConnection { connection in
                        try await connection.listen(on: Self.channel) { notifications in
                            if failures > 0 { logger.notice("listening for new and paid orders again (LISTEN \(Self.channel))") }
                            failures = 0
                            nudges.nudge()
                            for try await _ in notifications { nudges.nudge() }
                        }
                    }
                } catch {
                    if Task.isCancelled { return }
                    failures += 1
                    if failures == 1 {
                        logger.warning(
                            "lost the LISTEN connection to PostgreSQL; polling until it is back",
                            metadata: ["error": "\(PostgresStoreError.reason(error))"])
                    }
                }
                try await Task.sleep(for: .seconds(min(30, 1 << min(failures, 5))))
            }
        }
    }
}
