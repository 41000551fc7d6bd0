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
                StatusReport.Overdue(outTradeNo: $0.outTradeNo, mchID: $0.mchID, dueMs: ownDueMs($0), now: now)
            }
            var rows = state.published.map { (key: $0.key, value: $0.value, updatedMs: state.publishedMs[$0.key] ?? 0) }
            rows += state.daemons.values.map { (key: DaemonRecord.key($0.owner), value: $0.owner, updatedMs: $0.lastSeenMs) }
            let daemons = state.daemons
            let daemonState = StatusReport.DaemonState(
                rows: rows.sorted { Array($0.key.utf8).lexicographicallyPrecedes($1.key.utf8) }, now: now
            ) {
                daemons[$0]
            }
            return StatusReport(
                counts: counts, overdue: overdue.count, oldestOverdue: oldest,
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
        state.withLockedValue { state in
            state.rows.filter { row in row.outTradeNo == outTradeNo && (mchID == nil || mchID == row.mchID) }
                .sorted { Array($0.mchID.utf8).lexicographicallyPrecedes($1.mchID.utf8) }
                .map { row in
                    OrderDetail(
                        order: Self.fields(row),
                        attempts: state.audit.filter { $0.orderID == row.id }.map { Self.fields($0.record, of: row) })
                }
        }
    }

    /// The row as the SQL stores' `SELECT *` gives it.
    static func fields(_ row: Row) -> [String: FieldValue] {
        func text(_ value: String?) -> FieldValue { value.map(FieldValue.text) ?? .null }
        func int(_ value: Int64?) -> FieldValue { value.map(FieldValue.int) ?? .null }
        return [
            "id": .int(row.id), "mch_id": .text(row.mchID), "appid": .text(row.appID), "out_trade_no": .text(row.outTradeNo),
            "sub_mch_id": text(row.subMchID), "sub_appid": text(row.subAppID), "created_at": .int(row.createdAt),
            "timeout_seconds": .int(row.timeoutSeconds), "status": .text(row.status.rawValue), "outcome": text(row.outcome),
            "attempts": .int(Int64(row.attempts)), "last_error": text(row.lastError), "last_err_code": text(row.lastErrCode),
            "transaction_id": text(row.transactionID), "in_doubt": .int(row.inDoubt ? 1 : 0), "conflict": text(row.conflict),
            "first_attempt_ms": int(row.firstAttemptMs), "last_attempt_ms": int(row.lastAttemptMs),
            "finished_ms": int(row.finishedMs),
            "retry_at_ms": int(row.retryAtMs), "lease_owner": text(row.leaseOwner), "lease_token": text(row.leaseToken),
            "lease_expires_ms": int(row.leaseExpiresMs), "next_attempt_ms": .int(row.nextAttemptMs),
        ]
    }

    /// An audit row as the SQL stores' `close_attempts` holds it.
    static func fields(_ attempt: AttemptRecord, of row: Row) -> [String: FieldValue] {
        func text(_ value: String?) -> FieldValue { value.map(FieldValue.text) ?? .null }
        let response = attempt.response
        return [
            "order_id": .int(row.id), "mch_id": .text(row.mchID), "out_trade_no": .text(row.outTradeNo),
            "attempt": .int(Int64(attempt.attempt)), "operation": .text(attempt.call.rawValue),
            "started_ms": .int(attempt.startedAt),
            "finished_ms": .int(attempt.finishedAt), "duration_ms": .int(attempt.finishedAt - attempt.startedAt),
            "endpoint": text(attempt.endpoint), "http_status": response.httpStatus.map { .int(Int64($0)) } ?? .null,
            "return_code": text(response.returnCode), "return_msg": text(response.returnMsg),
            "result_code": text(response.resultCode),
            "err_code": text(response.errCode), "err_code_des": text(response.errCodeDes),
            "outcome": .text(attempt.outcome.rawValue),
            "error": text(attempt.error), "verified": .int(response.verified ? 1 : 0),
        ]
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
