import Logging
import ServiceLifecycle

/// Gives back the orders of daemons that died mid-call: an expired lease of another owner goes
/// back to `pending`, in doubt (WeChat may have acted; a re-close is idempotent).
///
/// It never takes this daemon's own leases: the closing loop knows its own calls, and a result
/// waiting for the database (an outage) must still land. Another daemon can rescue them if this
/// one dies. Runs every half lease, so a dead daemon's orders wait at most 1.5 leases.
///
/// | lease_ms (default 60 s) | rescue every | a dead daemon's order waits at most |
/// |-------------------------|--------------|-------------------------------------|
/// | 3 s                     | 1.5 s        | 4.5 s                               |
/// | 60 s                    | 30 s         | 90 s                                |
public struct LeaseRescuer: Service {
    let store: any OrderStore
    let clock: any OrderClock
    let owner: String
    let leaseMs: Int64
    let logger: Logger

    public init(store: any OrderStore, clock: any OrderClock, owner: String, leaseMs: Int64, logger: Logger) {
        self.store = store
        self.clock = clock
        self.owner = owner
        self.leaseMs = leaseMs
        self.logger = logger
    }

    public func run() async throws {
        var failing = false
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            do {
                try await rescueOnce()
                if failing { logger.notice("lease rescue works again") }
                failing = false
            } catch {
                if !failing { logger.error("lease rescue failed; will try again", metadata: ["error": "\(error)"]) }
                failing = true
            }
            let next = clock.now() + max(leaseMs / 2, 1)
            do {
                try await cancelWhenGracefulShutdown { try await clock.sleep(until: next) }
            } catch {
                return
            }
        }
    }

    /// One pass; logs the orders it gave back by name.
    @discardableResult
    public func rescueOnce() async throws -> [RescuedOrder] {
        let rescued = try await store.rescueExpiredLeases(now: clock.now(), sparing: owner)
        guard !rescued.isEmpty else { return rescued }
        let names = rescued.prefix(20).map { "\($0.outTradeNo) (mch \($0.mchID))" }.joined(separator: ", ")
        let more = rescued.count > 20 ? " and \(rescued.count - 20) more" : ""
        logger.warning("rescued \(rescued.count) order(s) whose lease expired with another daemon: \(names)\(more); in doubt, to be closed again",
                       metadata: ["count": "\(rescued.count)", "out_trade_nos": "\(rescued.prefix(20).map(\.outTradeNo).joined(separator: ","))"])
        return rescued
    }
}
