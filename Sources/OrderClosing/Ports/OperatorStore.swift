/// What the operator commands (`status`, `list`, `show`, `requeue`, `retry-now`, `abandon`,
/// `pause`, `resume`) ask of the queue, on whichever store the config names. Adapters:
/// `SQLiteOrderStore`, `PostgresOrderStore`, and the in-memory store of the tests; all pass one
/// conformance suite (`OperatorStoreConformanceTests`).
///
/// Read by hand, so scans are fine here, unlike the daemon's heartbeat (`OrderStore.summary`).
/// "Now" is the store's clock, as for the daemon: the `now` passed on SQLite, PostgreSQL's own
/// clock in production (see `PostgresStoreClock`), so `status` and the claims agree on what is due.
public protocol OperatorStore: Sendable {
    /// Counts by status; overdue orders (undecided and past their own due time, whatever their
    /// retry time — the definition the heartbeat and metrics use) and the oldest of them; in-doubt
    /// orders; orders failed in the last 24 h; circuits and pauses; every daemon's heartbeat row.
    func status(now: Int64) async throws -> StatusReport

    /// Orders `filter` selects, newest first, with their due time by the one definition of due.
    func list(_ filter: OrderFilter, now: Int64) async throws -> [OrderLine]

    /// The order's row(s) — one per merchant using that out_trade_no — with their attempts, oldest first.
    func show(outTradeNo: String, mchID: String?) async throws -> [OrderDetail]

    /// Applies `action` to the selected orders in one transaction (none when `dryRun`); reports
    /// each named order it leaves alone with the reason.
    func apply(_ action: OrderAction, to selection: OrderSelection, now: Int64, dryRun: Bool) async throws -> OrderActionReport

    /// Pauses a merchant for every daemon on this database, with the operator's reason (the
    /// daemons read it back with `OrderStore.pausedMerchants()`).
    func pause(mchID: String, reason: String, now: Int64) async throws

    /// Resumes a paused merchant; returns whether it was paused.
    func resume(mchID: String) async throws -> Bool
}

extension OperatorStore {
    /// Moves failed orders back to pending with a fresh attempt budget; they are due at once.
    public func requeue(outTradeNos: [String], mchID: String?, allFailed: Bool, now: Int64, dryRun: Bool = false) async throws
        -> OrderActionReport
    {
        try await apply(
            .requeue, to: OrderSelection(outTradeNos: outTradeNos, mchID: mchID, all: allFailed), now: now, dryRun: dryRun)
    }
}
