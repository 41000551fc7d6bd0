import Logging
import OrderClosing
import OrderClosingTestSupport
import Testing

/// The rescuer on the in-memory store (which passes the same conformance suite as SQLite).
@Suite struct LeaseRescuerTests {
    static let created: Int64 = 1_800_000_000
    static let dueMs = DuePolicy.standard.dueTime(createdAt: created, timeoutSeconds: 0)

    static func record(_ owner: String, pid: Int32, host: String = "h", boot: String = "b") -> DaemonRecord {
        DaemonRecord(owner: owner, host: host, pid: pid, bootID: boot, version: "test", startedMs: 0, intervalSeconds: 60)
    }

    func rescuer(_ store: InMemoryOrderStore, me: DaemonRecord, alive: Set<Int32>, now: Int64) -> LeaseRescuer {
        LeaseRescuer(
            store: store, clock: ManualClock(now: now), me: me, leaseMs: 60_000, logger: Logger(label: "test"),
            isAlive: { alive.contains($0) })
    }

    @Test func aDeadNeighboursLeasesComeBackAtOnceAndALiveOnesStay() async throws {
        let store = InMemoryOrderStore()
        let me = Self.record("h:1:me", pid: 1)
        let dead = Self.record("h:2:dead", pid: 2)
        let live = Self.record("h:3:live", pid: 3)
        let elsewhere = Self.record("other:2:x", pid: 2, host: "other")
        let rebooted = Self.record("h:4:old", pid: 4, boot: "old")
        for daemon in [me, dead, live, elsewhere, rebooted] { try await store.announce(daemon, now: 0) }
        for (index, owner) in [dead, live, elsewhere, rebooted, me].map(\.owner).enumerated() {
            try store.insert("O\(index)", createdAt: Self.created + Int64(index))
            _ = try await store.claimDue(
                ClaimRequest(limit: 1), now: Self.dueMs + 10_000, leaseOwner: owner, leaseUntil: Self.dueMs + 70_000)
        }
        let rescued = try await rescuer(store, me: me, alive: [1, 3], now: Self.dueMs + 11_000).rescueOnce()
        // Only the same host and boot's dead pid: another host's pid 2, or an old boot's pid 4, says nothing here.
        #expect(rescued.map(\.outTradeNo) == ["O0"])
        #expect(try store.stored("O0")?.status == .pending)
        #expect(try ["O1", "O2", "O3", "O4"].allSatisfy { try store.stored($0)?.status == .closing })
        #expect(try await store.daemons().map(\.owner).contains(dead.owner) == false)
    }

    @Test func aPredecessorWithOurOwnPidIsDead() async throws {
        // In a container a restarted daemon often gets the same pid as the one that crashed.
        let store = InMemoryOrderStore()
        let me = Self.record("h:1:new", pid: 1)
        let predecessor = Self.record("h:1:old", pid: 1)
        try await store.announce(predecessor, now: 0)
        try store.insert("P", createdAt: Self.created)
        _ = try await store.claimDue(
            ClaimRequest(limit: 1), now: Self.dueMs, leaseOwner: predecessor.owner, leaseUntil: Self.dueMs + 60_000)
        let rescued = try await rescuer(store, me: me, alive: [1], now: Self.dueMs + 1).rescueOnce()
        #expect(rescued.map(\.outTradeNo) == ["P"])
    }

    @Test func itNeverTakesItsOwnExpiredLeases() async throws {
        let store = InMemoryOrderStore()
        let me = Self.record("h:1:me", pid: 1)
        try store.insert("MINE", createdAt: Self.created)
        _ = try await store.claimDue(
            ClaimRequest(limit: 1), now: Self.dueMs, leaseOwner: me.owner, leaseUntil: Self.dueMs + 1_000)
        let rescued = try await rescuer(store, me: me, alive: [1], now: Self.dueMs + 120_000).rescueOnce()
        #expect(rescued.isEmpty)
        #expect(try store.stored("MINE")?.status == .closing)
    }
}
