import NIOConcurrencyHelpers
import OrderClosing

/// The operator commands' queries in memory, as the SQL stores answer them (the operator
/// conformance suite holds all three to the same results).
extension InMemoryOrderStore: OperatorStore {
    public func status(now: Int64) async throws -> StatusReport {
        state.withLockedValue { state in
            var counts: [OrderStatus: Int] = [:]
            for row in state.rows { counts[row.status, default: 0] += 1 }
            let overdue = state.rows.filter { isOverdue($0, now: now) }
            let oldest = overdue.min { ownDueMs($0) < ownDueMs($1) }.map {
                StatusReport.Overdue(outTradeNo: $0.outTradeNo, mchID: $0.mchID, dueMs: ownDueMs($0))
            }
            var rows = state.published.map { (key: $0.key, row: DaemonStateRow?.none, value: $0.value) }
            rows += state.daemons.values.map { (key: DaemonRecord.key($0.owner), row: .daemon($0), value: "") }
            let daemonState = rows.sorted { Array($0.key.utf8).lexicographicallyPrecedes($1.key.utf8) }.map {
                $0.row ?? DaemonStateRow(key: $0.key, value: $0.value, updatedMs: state.publishedMs[$0.key] ?? 0) { _ in nil }
            }
            return StatusReport(
                now: now, counts: counts, overdue: overdue.count, oldestOverdue: oldest,
                inDoubt: state.rows.filter { $0.inDoubt && [.pending, .closing].contains($0.status) }.count,
                failedLastDay: state.rows.filter {
                    $0.status == .failed && ($0.finishedMs ?? .min) >= now - StatusReport.failedWindowMs
                }.count,
                state: daemonState)
        }
    }

    func ownDueMs(_ row: Row) -> Int64 { due.dueTime(createdAt: row.createdAt, timeoutSeconds: row.timeoutSeconds) }

    func isOverdue(_ row: Row, now: Int64) -> Bool {
        [.pending, .closing].contains(row.status) && ownDueMs(row) <= now
    }

    public func list(_ filter: OrderFilter, now: Int64) async throws -> [OrderLine] {
        state.withLockedValue { state in
            state.rows.filter { row in
                (filter.status.map { row.status == $0 } ?? true) && (filter.mchID.map { row.mchID == $0 } ?? true)
                    && (!filter.overdueOnly || isOverdue(row, now: now))
                    && (filter.olderThanSeconds.map { row.createdAt <= now / 1000 - $0 } ?? true)
            }
            .sorted { ($0.createdAt, $0.id) > ($1.createdAt, $1.id) }
            .prefix(filter.limit)
            .map { row in
                OrderLine(
                    mchID: row.mchID, outTradeNo: row.outTradeNo, status: row.status.rawValue, outcome: row.outcome,
                    attempts: row.attempts, inDoubt: row.inDoubt, createdAt: row.createdAt, dueMs: ownDueMs(row),
                    nextAttemptMs: row.nextAttemptMs, lastError: row.lastError, now: now)
            }
        }
    }

    public func show(outTradeNo: String, mchID: String?) async throws -> [OrderDetail] {
        try state.withLockedValue { state in
            try state.rows.filter { row in row.outTradeNo == outTradeNo && (mchID == nil || mchID == row.mchID) }
                .sorted { Array($0.mchID.utf8).lexicographicallyPrecedes($1.mchID.utf8) }
                .map { row in
                    OrderDetail(
                        order: try Self.order(row),
                        attempts: state.audit.filter { $0.orderID == row.id }.map { Self.attempt($0.record, id: $0.id, of: row) })
                }
        }
    }

    /// The row as the SQL stores give it.
    static func order(_ row: Row) throws -> OrderDetail.Order {
        OrderDetail.Order(
            id: row.id, mchID: row.mchID, appID: row.appID, outTradeNo: row.outTradeNo, subMchID: row.subMchID,
            subAppID: row.subAppID, createdAt: row.createdAt, timeoutSeconds: row.timeoutSeconds, status: row.status,
            outcome: try row.outcome.map { try OrderDetail.word($0, column: "pending_orders.outcome") },
            attempts: row.attempts, lastError: row.lastError, lastErrCode: row.lastErrCode, transactionID: row.transactionID,
            inDoubt: row.inDoubt, conflict: row.conflict, firstAttemptMs: row.firstAttemptMs, lastAttemptMs: row.lastAttemptMs,
            finishedMs: row.finishedMs, retryAtMs: row.retryAtMs, leaseOwner: row.leaseOwner, leaseToken: row.leaseToken,
            leaseExpiresMs: row.leaseExpiresMs, nextAttemptMs: row.nextAttemptMs)
    }

    /// An audit row as the SQL stores' `close_attempts` holds it.
    static func attempt(_ attempt: AttemptRecord, id: Int64, of row: Row) -> OrderDetail.Attempt {
        let response = attempt.response
        return OrderDetail.Attempt(
            id: id, orderID: row.id, mchID: row.mchID, outTradeNo: row.outTradeNo, attempt: attempt.attempt,
            call: attempt.call, startedMs: attempt.startedAt, finishedMs: attempt.finishedAt, endpoint: attempt.endpoint,
            httpStatus: response.httpStatus, returnCode: response.returnCode, returnMsg: response.returnMsg,
            resultCode: response.resultCode, errCode: response.errCode, errCodeDes: response.errCodeDes,
            outcome: attempt.outcome, error: attempt.error, verified: response.verified)
    }

    public func apply(_ action: OrderAction, to selection: OrderSelection, now: Int64, dryRun: Bool) async throws
        -> OrderActionReport
    {
        state.withLockedValue { state in
            var skipped: [OrderActionReport.Skipped] = []
            var chosen: [Int] = []
            if selection.all {
                chosen = state.rows.indices.filter { index in
                    state.rows[index].status == action.from
                        && (selection.mchID == nil || selection.mchID == state.rows[index].mchID)
                }
            } else {
                for outTradeNo in selection.outTradeNos {
                    let matches = state.rows.indices.filter { index in
                        state.rows[index].outTradeNo == outTradeNo
                            && (selection.mchID == nil || selection.mchID == state.rows[index].mchID)
                    }.sorted { Array(state.rows[$0].mchID.utf8).lexicographicallyPrecedes(state.rows[$1].mchID.utf8) }
                    if matches.isEmpty {
                        skipped.append(
                            .init(outTradeNo: outTradeNo, mchID: nil, reason: OrderAction.noSuchOrder(mchID: selection.mchID)))
                    }
                    for index in matches {
                        if let why = action.refusal(status: state.rows[index].status.rawValue) {
                            skipped.append(.init(outTradeNo: outTradeNo, mchID: state.rows[index].mchID, reason: why))
                        } else if !chosen.contains(index) {
                            chosen.append(index)
                        }
                    }
                }
            }
            guard !dryRun else { return OrderActionReport(moved: chosen.count, skipped: skipped) }
            for index in chosen {
                state.rows[index].lastError = action.lastError(was: state.rows[index].lastError)
                switch action {
                case .requeue:
                    state.rows[index].status = .pending
                    state.rows[index].attempts = 0
                    state.rows[index].retryAtMs = now
                    state.rows[index].firstAttemptMs = nil
                    state.rows[index].finishedMs = nil
                case .retryNow:
                    state.rows[index].retryAtMs = now
                case .abandon:
                    state.rows[index].status = .failed
                    state.rows[index].finishedMs = now
                    state.rows[index].inDoubt = false
                }
            }
            return OrderActionReport(moved: chosen.count, skipped: skipped)
        }
    }

    public func pause(mchID: String, reason: String, now: Int64) async throws {
        try await publish("pause:\(mchID)", reason, now: now)
    }

    public func resume(mchID: String) async throws -> Bool {
        state.withLockedValue { state in
            state.publishedMs["pause:\(mchID)"] = nil
            return state.published.removeValue(forKey: "pause:\(mchID)") != nil
        }
    }
}
