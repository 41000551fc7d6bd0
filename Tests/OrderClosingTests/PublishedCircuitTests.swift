import OrderClosing
import Testing

/// Circuit rows as one typed value, with an owner and an end (issue 22.3): `status` shows only
/// the current ones, so a pause that ended, a merchant removed, or a stopped daemon no longer
/// keeps `status --check` at WARNING.
@Suite struct PublishedCircuitTests {
    static let now: Int64 = 1_800_000_000_000
    static let live = DaemonRecord(
        owner: "host:1:a", host: "host", pid: 1, bootID: "b", version: "t", startedMs: now - 60_000,
        intervalSeconds: 30)

    func state(_ rows: [(String, String)], daemons: [DaemonRecord] = [live]) -> StatusReport.DaemonState {
        var all = rows.map { (key: $0.0, value: $0.1, updatedMs: Self.now - 1_000) }
        for daemon in daemons {
            all.append((key: DaemonRecord.key(daemon.owner), value: daemon.owner, updatedMs: Self.now - 1_000))
        }
        all.sort { $0.key < $1.key }
        return StatusReport.DaemonState(rows: all, now: Self.now) { owner in daemons.first { $0.owner == owner } }
    }

    @Test func theWriterAndTheReaderShareOneValue() {
        let open = PublishedCircuit(state: .open, untilMs: Self.now + 30_000, reason: "SIGNERROR: 签名错误", owner: "host:1:a")
        #expect(PublishedCircuit(published: open.encoded) == open)
        let shown = state([("circuit:1900000109", open.encoded)]).circuits["1900000109"]
        #expect(shown?.state == "open" && shown?.reason == "SIGNERROR: 签名错误" && shown?.owner == "host:1:a")
    }

    @Test func aPauseThatEndedIsNotShownOpen() {
        let ended = PublishedCircuit(state: .open, untilMs: Self.now - 1, reason: "SIGNERROR", owner: "host:1:a")
        #expect(state([("circuit:1900000109", ended.encoded)]).circuits.isEmpty)
        // Also as the text older daemons wrote.
        #expect(state([("circuit:1900000109", "open until 2026-11-30T10:00:00.000Z: SIGNERROR")]).circuits.isEmpty)
    }

    @Test func aStoppedDaemonsRowsAreNotShown() {
        let paused = PublishedCircuit(state: .paused, reason: "key file missing", owner: "host:9:gone")
        let open = PublishedCircuit(state: .open, untilMs: Self.now + 30_000, reason: "SIGNERROR", owner: "host:9:gone")
        #expect(state([("circuit:1900000109", paused.encoded), ("circuit:1900000110", open.encoded)]).circuits.isEmpty)
        let mine = PublishedCircuit(state: .paused, reason: "key file missing", owner: "host:1:a")
        #expect(state([("circuit:1900000109", mine.encoded)]).circuits["1900000109"]?.state == "paused")
        // A stale heartbeat counts as stopped.
        var stale = Self.live
        stale.lastSeenMs = 0
        let staleState = StatusReport.DaemonState(
            rows: [
                (key: "circuit:1900000109", value: mine.encoded, updatedMs: Self.now),
                (key: DaemonRecord.key(stale.owner), value: "x", updatedMs: Self.now - 600_000),
            ],
            now: Self.now
        ) { _ in stale }
        #expect(staleState.circuits.isEmpty)
    }

    @Test func closedAndHalfOpenAreNothingToShow() {
        for circuit in [
            PublishedCircuit(state: .closed, owner: "host:1:a"), PublishedCircuit(state: .halfOpen, owner: "host:1:a"),
        ] {
            #expect(state([("circuit:1900000109", circuit.encoded)]).circuits.isEmpty)
        }
    }
}
