import Logging
import ServiceLifecycle

/// Gives back the orders of daemons that died mid-call: an expired lease of another owner goes
/// back to `pending`, in doubt (WeChat may have acted; a re-close is idempotent). A neighbour on
/// this host (same boot) whose process is gone has its leases taken back at once, without waiting
/// for them to expire, and its heartbeat row removed.
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
    let me: DaemonRecord
    let leaseMs: Int64
    let logger: Logger
    let isAlive: @Sendable (Int32) -> Bool
    var owner: String { me.owner }

    /// - Parameter isAlive: whether a pid on this host runs (`kill(pid, 0)` in the daemon).
    public init(
        store: any OrderStore, clock: any OrderClock, me: DaemonRecord, leaseMs: Int64, logger: Logger,
        isAlive: @escaping @Sendable (Int32) -> Bool
    ) {
        self.store = store
        self.clock = clock
        self.me = me
        self.leaseMs = leaseMs
        self.logger = logger
        self.isAlive = isAlive
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
        var all: [RescuedOrder] = []
        for gone in try await deadNeighbours() {
            let rescued = try await store.rescueLeases(heldBy: gone.owner, now: clock.now())
            try await store.forget(daemon: gone.owner)
            logger.warning(
                "daemon \(gone.owner) (pid \(gone.pid)) is gone; took back its \(rescued.count) leased order(s) at once",
                metadata: ["daemon": "\(gone.owner)", "count": .stringConvertible(rescued.count)])
            report(rescued, why: "held by a daemon that is gone")
            all += rescued
        }
        let expired = try await store.rescueExpiredLeases(now: clock.now(), sparing: owner)
        report(expired, why: "whose lease expired with another daemon")
        return all + expired
    }

    /// Daemons on this host and boot, other than this one, whose process has ended (a reused pid
    /// equal to ours is a predecessor too).
    func deadNeighbours() async throws -> [DaemonRecord] {
        try await store.daemons().filter { other in
            other.owner != me.owner && other.host == me.host && other.bootID == me.bootID
                && (other.pid == me.pid || !isAlive(other.pid))
        }
    }

    private func report(_ rescued: [RescuedOrder], why: String) {
        guard !rescued.isEmpty else { return }
        let names = rescued.prefix(20).map { "\($0.outTradeNo) (mch \($0.mchID))" }.joined(separator: ", ")
        let more = rescued.count > 20 ? " and \(rescued.count - 20) more" : ""
        logger.warning(
            "rescued \(rescued.count) order(s) \(why): \(names)\(more); in doubt, to be closed again",
            metadata: [
                "count": .stringConvertible(rescued.count),
                "out_trade_nos": "\(rescued.prefix(20).map(\.outTradeNo).joined(separator: ","))",
            ])
    }
}

/// `last_error` of an order a rescue gave back; every store writes these words. They say only
/// what is known: an expired lease may belong to a daemon that stopped, or to one still calling
/// WeChat or waiting for its database (issue 21).
public enum LeaseRescue {
    /// `rescueExpiredLeases`: the lease ran out before an outcome was recorded.
    public static let expired =
        "lease expired before its daemon recorded an outcome; the call may have reached WeChat: in doubt, closed again"
    /// `rescueLeases(heldBy:)`: the holder's process is known to be gone (same host and boot).
    public static let holderGone =
        "the daemon that held it is gone (its process ended) before recording an outcome: in doubt, closed again"
}
