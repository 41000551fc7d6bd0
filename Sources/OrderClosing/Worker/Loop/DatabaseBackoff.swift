/// How the closing loop waits out a database that refuses work (locked, read-only, full, a
/// PostgreSQL restart): no claim and no write before `retryAt`; the first answer ends the wait.
/// Pure: `now` is passed in. Work waits meanwhile (outcomes stay queued in `OutcomeCompleter`).
///
/// | failures in a row | 1      | 2      | 3   | 4   | 5   | 6   | 7    | ≥ 8  |
/// |-------------------|--------|--------|-----|-----|-----|-----|------|------|
/// | next try after    | 250 ms | 500 ms | 1 s | 2 s | 4 s | 8 s | 16 s | 30 s |
struct DatabaseBackoff: Equatable {
    /// Refusals in a row; 0 while the database answers.
    private(set) var failures = 0
    /// No claim or write before this time (unix ms).
    private(set) var retryAt: Int64 = 0

    func isOpen(now: Int64) -> Bool { now >= retryAt }

    /// Notes a refusal; returns whether it is the first of an outage (the one the journal shows).
    mutating func failed(now: Int64) -> Bool {
        failures += 1
        retryAt = now + Self.delayMs(failures: failures)
        return failures == 1
    }

    /// Notes an answer; returns how many refusals it ends, if it ends an outage.
    mutating func answered() -> Int? {
        guard failures > 0 else { return nil }
        defer { (failures, retryAt) = (0, 0) }
        return failures
    }

    /// A retry timer fired at `now`: the next try is due then at the latest.
    mutating func retry(noLaterThan now: Int64) {
        retryAt = min(retryAt, now)
    }

    /// The wait after the n-th refusal in a row: 250 ms doubling to 30 s (the table above).
    static func delayMs(failures: Int) -> Int64 {
        min(Int64(250) << min(max(failures - 1, 0), 7), 30_000)
    }
}
