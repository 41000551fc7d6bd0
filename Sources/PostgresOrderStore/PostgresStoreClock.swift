import Foundation

/// Whose clock decides what is due, when a lease runs out and when a retry falls due.
///
/// Several daemons on several hosts share one queue. With each daemon's own clock, a host whose
/// clock runs 30 s fast would claim orders 30 s early (inside WeChat's 5 minutes once the 5 s
/// margin is used up) and rescue its neighbours' leases 30 s before they run out, while they are
/// still calling WeChat. With the database's clock, every daemon compares against one clock, so
/// skew between daemon hosts changes nothing about which order is due or whose lease has expired:
///
/// | time                                | `.database` (production)           | `.caller` (tests)   |
/// |-------------------------------------|------------------------------------|---------------------|
/// | "now" for due, rescue, summary      | PostgreSQL's `now()` (transaction) | the `now` passed    |
/// | lease expiry, retry time            | database now + (time − caller now) | the time passed     |
/// | first/last attempt, finished, seen  | database now                       | the `now` passed    |
/// | next due time, daemons' last seen   | turned into the caller's clock     | as stored           |
/// | audit rows' started/finished        | the daemon's clock (durations)     | the daemon's clock  |
///
/// What skew still does under `.database`: a daemon's sleep until the next due time is measured on
/// its own clock after translation, so it wakes about on time; durations (lease length, retry
/// delay) are kept, only their origin moves. The merchant's app writes `created_at` from its own
/// host's clock, so the app hosts' skew still adds to (or eats into) the 5 s margin: keep them on
/// NTP. The conformance suite passes its own `now` through `.caller`, so one injected clock drives
/// both stores.
public enum PostgresStoreClock: Sendable, Hashable {
    case database
    case caller

    /// Unix ms on this host, to turn database times into the caller's clock.
    static func localNowMs() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)) }

    /// PostgreSQL's "now" in unix ms: the transaction's start, the same for every statement in it.
    static let databaseNowSQL = "(extract(epoch from transaction_timestamp()) * 1000)::bigint"
}

/// The SQL for the clock's times in one statement: `now` and `shifted(t)` for a time the caller
/// computed on its own clock.
struct ClockSQL {
    let now: String
    private let callerNow: String
    private let clock: PostgresStoreClock

    init(_ clock: PostgresStoreClock, callerNow: Int64, in statement: inout PostgresStatement) {
        self.clock = clock
        self.callerNow = "\(statement.bind(callerNow))::bigint"
        now = clock == .database ? PostgresStoreClock.databaseNowSQL : self.callerNow
    }

    /// A caller's time (lease end, retry time) moved onto the database's clock, its distance from
    /// the caller's `now` kept.
    func shifted(_ placeholder: String) -> String {
        clock == .database ? "(\(placeholder)::bigint + \(now) - \(callerNow))" : "\(placeholder)::bigint"
    }
}
