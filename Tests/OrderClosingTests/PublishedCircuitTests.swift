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

    /// The report of `rows` (key, value) and `daemons`' heartbeat rows, written a second ago.
    func state(_ rows: [(String, String)], daemons: [DaemonRecord] = [live]) -> StatusReport {
        var all = rows.map { (key: $0.0, value: $0.1) }
        for daemon in daemons { all.append((key: DaemonRecord.key(daemon.owner), value: daemon.owner)) }
        all.sort { $0.key < $1.key }
        return StatusReport(
            now: Self.now,
            state: all.map { row in
                DaemonStateRow(key: row.key, value: row.value, updatedMs: Self.now - 1_000) { owner in
                    daemons.first { $0.owner == owner }
                }
            })
    }

    @Test func eachRowIsDecodedByItsKey() {
        let open = PublishedCircuit(state: .open, untilMs: Self.now + 30_000, reason: "SIGNERROR", owner: "host:1:a")
        let decode: (String) -> DaemonRecord? = { $0 == "host:1:a" ? Self.live : nil }
        #expect(
            DaemonStateRow(key: "circuit:1900000109/1230000001", value: open.encoded, updatedMs: 7, decode: decode)
                == .circuit(key: "1900000109/1230000001", open, publishedMs: 7))
        #expect(
            DaemonStateRow(key: "pause:1900000109", value: "key rotation", updatedMs: 7, decode: decode)
                == .pause(mchID: "1900000109", reason: "key rotation"))
        var seen = Self.live
        seen.lastSeenMs = 7
        #expect(DaemonStateRow(key: "daemon:host:1:a", value: "host:1:a", updatedMs: 7, decode: decode) == .daemon(seen))
        // A heartbeat row that cannot be read is shown as written, as are the other facts.
        #expect(
            DaemonStateRow(key: "daemon:host:2:b", value: "garbled", updatedMs: 7, decode: decode)
                == .fact(key: "daemon:host:2:b", value: "garbled"))
        #expect(
            DaemonStateRow(key: "heartbeat", value: "due=0", updatedMs: 7, decode: decode)
                == .fact(key: "heartbeat", value: "due=0"))
        let report = StatusReport(
            now: Self.now,
            state: ["circuit:1900000109", "daemon:host:1:a", "heartbeat", "pause:1900000110"].map {
                DaemonStateRow(
                    key: $0, value: $0 == "daemon:host:1:a" ? "host:1:a" : open.encoded, updatedMs: Self.now, decode: decode)
            })
        #expect(report.circuits.keys.sorted() == ["1900000109"] && report.pauses.keys.sorted() == ["1900000110"])
        #expect(report.daemons.map(\.owner) == ["host:1:a"] && report.facts.keys.sorted() == ["heartbeat"])
    }

    @Test func theWriterAndTheReaderShareOneValue() {
        let open = PublishedCircuit(state: .open, untilMs: Self.now + 30_000, reason: "SIGNERROR: 签名错误", owner: "host:1:a")
        #expect(PublishedCircuit(published: open.encoded) == open)
        let shown = state([("circuit:1900000109", open.encoded)]).circuits["1900000109"]
        #expect(shown == StatusReport.Circuit(open, publishedMs: Self.now - 1_000))
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
        #expect(state([("circuit:1900000109", mine.encoded)]).circuits["1900000109"]?.circuit.state == .paused)
        // A stale heartbeat counts as stopped.
        var stale = Self.live
        stale.lastSeenMs = 0
        let staleState = StatusReport(
            now: Self.now,
            state: [
                DaemonStateRow(key: "circuit:1900000109", value: mine.encoded, updatedMs: Self.now) { _ in stale },
                DaemonStateRow(key: DaemonRecord.key(stale.owner), value: "x", updatedMs: Self.now - 600_000) { _ in stale },
            ])
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
