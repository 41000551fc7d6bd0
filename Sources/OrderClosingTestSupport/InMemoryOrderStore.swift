import GatewayVocabulary
import NIOConcurrencyHelpers
import OrderClosing

/// An `OrderStore` in memory, with the semantics of the SQL stores (claim, lease, compare-and-set,
/// rescue, release): a test double for unit tests of the loop, held to the same conformance suite
/// as the real stores (`StoreConformanceTests`), so the double cannot drift from them.
public final class InMemoryOrderStore: OrderStore, StoreFixture {
    struct Row {
        let id: Int64
        let mchID, appID, outTradeNo: String
        let subMchID, subAppID: String?
        let createdAt, timeoutSeconds: Int64
        var status: OrderStatus = .pending
        var outcome, lastError, lastErrCode, transactionID, conflict: String?
        var attempts = 0
        var inDoubt = false
        var firstAttemptMs, lastAttemptMs, finishedMs, retryAtMs: Int64?
        var leaseOwner, leaseToken: String?
        var leaseExpiresMs: Int64?

        /// `next_attempt_ms` of migration 1: the index's lower bound.
        var nextAttemptMs: Int64 { retryAtMs ?? (createdAt + max(timeoutSeconds, DuePolicy.wechatMinimumAge)) * 1000 }
    }

    struct State {
        var rows: [Row] = []
        var audit: [(id: Int64, orderID: Int64, record: AttemptRecord)] = []
        var lastAttemptID: Int64 = 0
        var published: [String: String] = [:]
        /// When each `published` key was last written (`daemon_state.updated_ms`).
        var publishedMs: [String: Int64] = [:]
        var daemons: [String: DaemonRecord] = [:]
        var nextToken = 0
        var lastID: Int64 = 0
    }

    let due: DuePolicy
    let state = NIOLockedValueBox(State())
    public var store: any OrderStore { self }

    public init(due: DuePolicy = .standard) {
        self.due = due
    }

    func dueMs(_ row: Row) -> Int64 {
        max(row.nextAttemptMs, due.dueTime(createdAt: row.createdAt, timeoutSeconds: row.timeoutSeconds))
    }

    // MARK: OrderStore

    public func recordAndClaim(
        _ writes: [OrderWrite], claim: ClaimRequest, now: Int64, leaseOwner: String,
        leaseUntil: Int64
    ) async throws -> (recorded: [WriteResult], claimed: [ClaimedOrder]) {
        state.withLockedValue { state in
            let recorded = writes.map { apply($0, now: now, &state) }
            state.nextToken += 1
            let token = "memory-\(state.nextToken)"
            let candidates = state.rows.indices
                .filter { state.rows[$0].status == .pending && dueMs(state.rows[$0]) <= now }
                .sorted { (state.rows[$0].nextAttemptMs, state.rows[$0].id) < (state.rows[$1].nextAttemptMs, state.rows[$1].id) }
            var perMerchant: [String: Int] = [:]
            var claimed: [ClaimedOrder] = []
            for index in candidates where claimed.count < claim.limit {
                let row = state.rows[index]
                guard claim.admits(mchID: row.mchID, subMchID: row.subMchID) else { continue }
                if let limit = claim.merchantLimits[row.mchID], perMerchant[row.mchID, default: 0] >= limit { continue }
                perMerchant[row.mchID, default: 0] += 1
                state.rows[index].status = .closing
                state.rows[index].leaseOwner = leaseOwner
                state.rows[index].leaseToken = token
                state.rows[index].leaseExpiresMs = leaseUntil
                state.rows[index].attempts += 1
                state.rows[index].firstAttemptMs = row.firstAttemptMs ?? now
                state.rows[index].lastAttemptMs = now
                let leased = state.rows[index]
                claimed.append(
                    ClaimedOrder(
                        id: leased.id, mchID: leased.mchID, appID: leased.appID, outTradeNo: leased.outTradeNo,
                        subMchID: leased.subMchID, subAppID: leased.subAppID, createdAt: leased.createdAt,
                        timeoutSeconds: leased.timeoutSeconds, attempt: leased.attempts, inDoubt: leased.inDoubt,
                        firstAttemptAt: leased.firstAttemptMs ?? now, leaseToken: token))
            }
            return (recorded, claimed)
        }
    }

    public func record(_ writes: [OrderWrite], now: Int64) async throws -> [WriteResult] {
        state.withLockedValue { state in writes.map { apply($0, now: now, &state) } }
    }

    public func release(_ orders: [ClaimedOrder], now: Int64) async throws {
        state.withLockedValue { state in
            for order in orders {
                guard let index = state.rows.firstIndex(where: { $0.id == order.id }),
                    state.rows[index].leaseToken == order.leaseToken, state.rows[index].status == .closing
                else { continue }
                state.rows[index].status = .pending
                state.rows[index].attempts = max(state.rows[index].attempts - 1, 0)
                clearLease(&state.rows[index])
            }
        }
    }

    public func rescueExpiredLeases(now: Int64, sparing: String?) async throws -> [RescuedOrder] {
        rescue(now: now, why: LeaseRescue.expired) { row in
            (row.leaseExpiresMs ?? .max) < now && row.leaseOwner != sparing
        }
    }

    public func rescueLeases(heldBy owner: String, now: Int64) async throws -> [RescuedOrder] {
        rescue(now: now, why: LeaseRescue.holderGone) { $0.leaseOwner == owner }
    }

    public func pausedMerchants() async throws -> [String: String] {
        state.withLockedValue { state in
            Dictionary(
                uniqueKeysWithValues: state.published.filter { $0.key.hasPrefix("pause:") }.map {
                    (String($0.key.dropFirst(6)), $0.value)
                })
        }
    }

    public func announce(_ daemon: DaemonRecord, now: Int64) async throws {
        var seen = daemon
        seen.lastSeenMs = now
        state.withLockedValue { $0.daemons[daemon.owner] = seen }
    }

    public func daemons() async throws -> [DaemonRecord] {
        state.withLockedValue { $0.daemons.values.sorted { $0.owner < $1.owner } }
    }

    public func forget(daemon owner: String) async throws {
        _ = state.withLockedValue { $0.daemons.removeValue(forKey: owner) }
    }

    private func rescue(now: Int64, why: String, _ matches: (Row) -> Bool) -> [RescuedOrder] {
        state.withLockedValue { state in
            var rescued: [RescuedOrder] = []
            for index in state.rows.indices {
                let row = state.rows[index]
                guard row.status == .closing, matches(row) else { continue }
                state.rows[index].status = .pending
                state.rows[index].inDoubt = true
                state.rows[index].retryAtMs = now
                state.rows[index].lastError = why
                clearLease(&state.rows[index])
                rescued.append(RescuedOrder(mchID: row.mchID, outTradeNo: row.outTradeNo))
            }
            return rescued
        }
    }

    public func nextDueTime(admittedBy claim: ClaimRequest) async throws -> Int64? {
        state.withLockedValue { state in
            state.rows.filter { $0.status == .pending && claim.admits(mchID: $0.mchID, subMchID: $0.subMchID) }.map(dueMs).min()
        }
    }

    public func publish(_ key: String, _ value: String, now: Int64) async throws {
        state.withLockedValue { state in
            state.published[key] = value
            state.publishedMs[key] = now
        }
    }

    public func summary(now: Int64) async throws -> QueueSummary {
        state.withLockedValue { state in
            let dueRows = state.rows.filter { $0.status == .pending && dueMs($0) <= now }
            let overdue = state.rows.filter { [.pending, .closing].contains($0.status) }
                .map { due.dueTime(createdAt: $0.createdAt, timeoutSeconds: $0.timeoutSeconds) }.filter { $0 <= now }
            return QueueSummary(
                counts: ["due": dueRows.count, "closing": state.rows.filter { $0.status == .closing }.count],
                oldestDueLagMs: max(0, now - (dueRows.map(dueMs).min() ?? now)),
                inDoubt: dueRows.filter(\.inDoubt).count,
                overdue: overdue.count, oldestOverdueMs: max(0, now - (overdue.min() ?? now)))
        }
    }

    // MARK: Retention, as the SQL stores do it

    /// The finish time retention goes by: `finished_ms`, or for a row the merchant marked paid, `created_at`.
    func finishedMs(_ row: Row) -> Int64 { row.finishedMs ?? row.createdAt * 1000 }

    /// Finished before `cutoff`, but for a failed row with a conflict, which waits for a person.
    func finished(before cutoff: Int64, _ state: State) -> [Row] {
        state.rows.filter { $0.status.isTerminal && finishedMs($0) < cutoff && !($0.status == .failed && $0.conflict != nil) }
            .sorted { (finishedMs($0), $0.id) < (finishedMs($1), $1.id) }
    }

    func tally(_ rows: [Row], _ state: State) -> PrunedOrders {
        let ids = Set(rows.map(\.id))
        return PrunedOrders(
            orders: Dictionary(rows.map { ($0.status, 1) }, uniquingKeysWith: +),
            attempts: state.audit.filter { ids.contains($0.orderID) }.count)
    }

    public func pruneFinishedOrders(finishedBefore cutoff: Int64, limit: Int) async throws -> PrunedOrders {
        state.withLockedValue { state in
            let doomed = Array(finished(before: cutoff, state).prefix(max(limit, 0)))
            let result = tally(doomed, state)
            let ids = Set(doomed.map(\.id))
            state.rows.removeAll { ids.contains($0.id) }
            state.audit.removeAll { ids.contains($0.orderID) }
            return result
        }
    }

    public func countFinishedOrders(finishedBefore cutoff: Int64) async throws -> PrunedOrders {
        state.withLockedValue { state in tally(finished(before: cutoff, state), state) }
    }

    /// Memory has no free pages to give back.
    public func reclaimFreeSpace(pages: Int) async throws -> Int { 0 }

    // MARK: Writes, as the SQL stores make them

    private func apply(_ write: OrderWrite, now: Int64, _ state: inout State) -> WriteResult {
        for attempt in write.attempts {
            state.lastAttemptID += 1
            state.audit.append((state.lastAttemptID, write.order.id, attempt))
        }
        guard let index = state.rows.firstIndex(where: { $0.id == write.order.id }) else { return .leaseLost(current: nil) }
        let row = state.rows[index]
        let leased = row.leaseToken == write.order.leaseToken && row.status == .closing
        let errCode = write.attempts.last.flatMap { $0.response.verified ? $0.response.errCode : nil }
        switch write.change {
        case .finish(let status, let outcome, let transactionID, let reason):
            let rescuedAwaitingVerdict =
                row.status == .pending && row.leaseToken == nil && row.inDoubt
                && !write.attempts.isEmpty && status != .failed
            guard leased || rescuedAwaitingVerdict else { return conflict(write, index, &state) }
            state.rows[index].status = status
            state.rows[index].outcome = outcome
            state.rows[index].transactionID = transactionID ?? row.transactionID
            state.rows[index].lastError = reason
            state.rows[index].lastErrCode = errCode
            state.rows[index].finishedMs = now
            state.rows[index].inDoubt = false
            if write.attempts.isEmpty { state.rows[index].attempts = max(state.rows[index].attempts - 1, 0) }
        case .retry(let at, let reason, let inDoubt, let refundAttempt):
            guard leased else { return conflict(write, index, &state) }
            state.rows[index].status = .pending
            state.rows[index].retryAtMs = at
            state.rows[index].lastError = reason
            state.rows[index].lastErrCode = errCode
            state.rows[index].inDoubt = row.inDoubt || inDoubt
            if refundAttempt { state.rows[index].attempts = max(state.rows[index].attempts - 1, 0) }
        case .contradiction(let text):
            guard leased else { return conflict(write, index, &state) }
            state.rows[index].status = .failed
            state.rows[index].conflict = text
            state.rows[index].lastError = text
            state.rows[index].lastErrCode = errCode
            state.rows[index].finishedMs = now
            state.rows[index].inDoubt = false
        }
        clearLease(&state.rows[index])
        return .applied
    }

    private func conflict(_ write: OrderWrite, _ index: Int, _ state: inout State) -> WriteResult {
        let lost = write.lostCompareAndSet(current: state.rows[index].status, outcome: state.rows[index].outcome)
        if let note = lost.conflict { state.rows[index].conflict = note }
        return lost.result
    }

    private func clearLease(_ row: inout Row) {
        row.leaseOwner = nil
        row.leaseToken = nil
        row.leaseExpiresMs = nil
    }

    // MARK: StoreFixture

    public func insert(
        _ outTradeNo: String, createdAt: Int64, timeout: Int64 = 0, mchID: String = StoreFixtureDefaults.mchID,
        subMchID: String? = nil
    ) throws {
        state.withLockedValue { state in
            state.lastID += 1
            let id = state.lastID
            state.rows.append(
                Row(
                    id: id, mchID: mchID, appID: StoreFixtureDefaults.appID, outTradeNo: outTradeNo, subMchID: subMchID,
                    subAppID: nil, createdAt: createdAt, timeoutSeconds: timeout))
        }
    }

    public func markPaid(_ outTradeNo: String, mchID: String = StoreFixtureDefaults.mchID) throws {
        state.withLockedValue { state in
            for index in state.rows.indices
            where state.rows[index].mchID == mchID && state.rows[index].outTradeNo == outTradeNo
                && [.pending, .closing].contains(state.rows[index].status)
            {
                state.rows[index].status = .paid
                state.rows[index].inDoubt = false  // migration 5's trigger: a decided row is not in doubt
            }
        }
    }

    public func stored(_ outTradeNo: String) throws -> StoredOrder? {
        state.withLockedValue { state in
            state.rows.first { $0.outTradeNo == outTradeNo }.map { row in
                StoredOrder(
                    status: row.status, attempts: row.attempts, inDoubt: row.inDoubt, leaseOwner: row.leaseOwner,
                    outcome: row.outcome, lastError: row.lastError, lastErrCode: row.lastErrCode, conflict: row.conflict,
                    transactionID: row.transactionID, nextAttemptMs: row.nextAttemptMs)
            }
        }
    }

    public func audit(_ outTradeNo: String) throws -> [StoredAttempt] {
        state.withLockedValue { state in
            guard let id = state.rows.first(where: { $0.outTradeNo == outTradeNo })?.id else { return [] }
            return state.audit.filter { $0.orderID == id }.map {
                StoredAttempt(
                    errCode: $0.record.response.errCode, returnCode: $0.record.response.returnCode,
                    verified: $0.record.response.verified)
            }
        }
    }

    public func published(_ key: String) throws -> String? {
        state.withLockedValue { $0.published[key] }
    }

    public func remove() {}
}
