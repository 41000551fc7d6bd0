import OrderClosing
import OrderClosingTestSupport
import Testing
import WeChatPayV2

/// `CloseDecision`'s tables and `MerchantGate`'s, row by row, with no store and no clock.
@Suite struct DecisionTableTests {
    static let order = ClaimedOrder(
        id: 1, mchID: "1900000109", appID: "wx2421b1c4370ec43b", outTradeNo: "T1", subMchID: nil,
        subAppID: nil, createdAt: 1_800_000_000, timeoutSeconds: 0, attempt: 1, inDoubt: false,
        firstAttemptAt: 1_800_000_305_000, leaseToken: "t")
    static let now: Int64 = 1_800_000_306_000

    enum Expected: Equatable { case paid, closed, contradiction, retry }

    static func kind(_ change: OrderChange) -> Expected {
        switch change {
        case .finish(.paid, _, _, _): .paid
        case .finish(.closed, _, _, _): .closed
        case .contradiction: .contradiction
        case .retry: .retry
        case .finish: .retry
        }
    }

    /// The eight trade states after a signed ORDERPAID and after an unknown code (issue 10, defects 4 and 6).
    @Test(arguments: [
        (TradeState.success, Expected.paid, Expected.paid),
        (.refund, .paid, .paid),
        (.closed, .contradiction, .closed),
        (.revoked, .contradiction, .closed),
        (.notPay, .contradiction, .retry),
        (.payError, .contradiction, .retry),
        (.userPaying, .paid, .retry),
        (.accept, .paid, .retry),
    ])
    func everyTradeStateHasItsDecision(state: TradeState, afterPaid: Expected, afterUnknown: Expected) {
        let query = QueryOutcome.state(state, transactionID: state == .success ? "4200000001" : nil)
        let paid = CloseDecision.afterQuery(
            Self.order, because: .orderPaid, query: query, now: Self.now, retry: RetryPolicy(), jitterUnit: 0.5)
        let unknown = CloseDecision.afterQuery(
            Self.order, because: .unknownCode("TRADE_STATE_ERROR"), query: query, now: Self.now, retry: RetryPolicy(),
            jitterUnit: 0.5)
        #expect(Self.kind(paid) == afterPaid)
        #expect(Self.kind(unknown) == afterUnknown)
        if state == .success, case .finish(_, _, let transactionID, _) = paid { #expect(transactionID == "4200000001") }
    }

    /// Issue 11's pushback: FREQUENCY_LIMITED and 429 give the attempt back and retry after
    /// about a second whatever the attempt; other retryable answers back off by the attempt.
    @Test(arguments: [RetryReason.frequencyLimited, .httpStatus(429)])
    func pushbackRetriesAfterASecondWithTheAttemptGivenBack(reason: RetryReason) {
        let third = ClaimedOrder(
            id: 1, mchID: "1900000109", appID: "wx2421b1c4370ec43b", outTradeNo: "T1", subMchID: nil,
            subAppID: nil, createdAt: 1_800_000_000, timeoutSeconds: 0, attempt: 3, inDoubt: false,
            firstAttemptAt: 1_800_000_305_000, leaseToken: "t")
        let next = CloseDecision.afterClose(
            third, outcome: .retryable(reason), delivered: true, now: Self.now,
            retry: RetryPolicy(), jitterUnit: 0.5)
        guard case .change(.retry(let at, _, _, let refund)) = next else {
            Issue.record("got \(next)")
            return
        }
        #expect(at == Self.now + 1_000)
        #expect(refund)
        let backoff = CloseDecision.afterClose(
            third, outcome: .retryable(.systemError), delivered: true, now: Self.now,
            retry: RetryPolicy(), jitterUnit: 0.5)
        guard case .change(.retry(let later, _, _, false)) = backoff else {
            Issue.record("got \(backoff)")
            return
        }
        #expect(later == Self.now + 20_000, "SYSTEMERROR after attempt 3 waits the backoff's 20 s")
    }

    /// Issue 14: v3's 204 is decided by the query; an order WeChat never saw is closed (not_exist),
    /// as a close's ORDERNOTEXIST is, and a confirmed close reads `closed`.
    @Test func aV3NoContentCloseIsDecidedByTheQuery() {
        func after(_ query: QueryOutcome?, because: CloseDecision.QueryReason = .unconfirmed(.closed)) -> OrderChange {
            CloseDecision.afterQuery(
                Self.order, because: because, query: query, now: Self.now, retry: RetryPolicy(), jitterUnit: 0.5)
        }
        #expect(
            CloseDecision.afterClose(
                Self.order, outcome: .unconfirmed(.closed), delivered: true, now: Self.now,
                retry: RetryPolicy(), jitterUnit: 0.5) == .query(because: .unconfirmed(.closed)))
        guard case .finish(.closed, "closed"?, nil, nil) = after(.state(.closed, transactionID: nil)) else {
            Issue.record("not closed")
            return
        }
        guard case .finish(.closed, "not_exist"?, nil, nil) = after(.notExist) else {
            Issue.record("not exist is not closed")
            return
        }
        guard
            case .finish(.closed, "already_closed"?, nil, nil) = after(
                .state(.closed, transactionID: nil), because: .unknownCode("TRADE_ERROR"))
        else {
            Issue.record("an unknown code's CLOSED is not already_closed")
            return
        }
        guard case .finish(.paid, "paid"?, "4200000001"?, nil) = after(.state(.success, transactionID: "4200000001")) else {
            Issue.record("not paid")
            return
        }
        #expect(Self.kind(after(.state(.notPay, transactionID: nil))) == .retry)
        #expect(Self.kind(after(nil)) == .retry)
        // A signed ORDERPAID still stands against a query that finds no order.
        #expect(Self.kind(after(.notExist, because: .orderPaid)) == .paid)
        // The retry's reason says what happened in words, never an internal name.
        guard case .retry(_, let reason, _, _) = after(.state(.notPay, transactionID: nil)) else {
            Issue.record("not a retry")
            return
        }
        #expect(reason == "HTTP 204 to the close; query: trade_state NOTPAY")
    }

    /// Issue 21: v3 answers that name no order (a 204, ORDER_CLOSED, ORDER_NOT_EXIST, INVALID_REQUEST)
    /// never decide an order by themselves; after the query, each row of the table.
    @Test(
        arguments: [
            // trade_state (nil: ORDER_NOT_EXIST; "-": no usable answer) → after 204, ORDER_CLOSED, ORDER_NOT_EXIST, INVALID_REQUEST
            ("SUCCESS", "paid/paid", "paid/paid", "paid/paid", "paid/paid"),
            ("REFUND", "paid/paid", "paid/paid", "paid/paid", "paid/paid"),
            ("CLOSED", "closed/closed", "closed/already_closed", "closed/already_closed", "closed/already_closed"),
            ("REVOKED", "closed/closed", "closed/already_closed", "closed/already_closed", "closed/already_closed"),
            ("NOTPAY", "retry", "retry", "retry", "refused"),
            ("PAYERROR", "retry", "retry", "retry", "refused"),
            ("USERPAYING", "retry", "retry", "retry", "refused"),
            ("ACCEPT", "retry", "retry", "retry", "refused"),
            (nil, "closed/not_exist", "closed/not_exist", "closed/not_exist", "refused"),
            ("-", "retry", "retry", "retry", "refused"),
        ] as [(String?, String, String, String, String)])
    func anUnconfirmedClaimIsDecidedByTheQuery(
        state: String?, after204: String, afterClosed: String, afterNotExist: String,
        afterInvalid: String
    ) {
        let query: QueryOutcome? =
            switch state {
            case nil: .notExist
            case "-": .retryable(.httpStatus(500))
            case let state?: .state(TradeState(rawValue: state)!, transactionID: "4200000001")
            }
        let claims: [(UnconfirmedClose, String)] = [
            (.closed, after204), (.alreadyClosed, afterClosed), (.notExist, afterNotExist),
            (.rejected("INVALID_REQUEST: 无效请求"), afterInvalid),
        ]
        for (claim, expected) in claims {
            let next = CloseDecision.afterClose(
                Self.order, outcome: .unconfirmed(claim), delivered: true, now: Self.now,
                retry: RetryPolicy(), jitterUnit: 0.5)
            #expect(next == .query(because: .unconfirmed(claim)), "\(claim) decided without a query: \(next)")
            let change = CloseDecision.afterQuery(
                Self.order, because: .unconfirmed(claim), query: query, now: Self.now,
                retry: RetryPolicy(), jitterUnit: 0.5)
            let got: String =
                switch change {
                case .finish(let status, let outcome?, let transactionID, _):
                    status == .paid && transactionID != "4200000001"
                        ? "paid without its transaction_id" : "\(status.rawValue)/\(outcome)"
                case .retry(_, let reason, _, false):
                    reason.hasPrefix("WeChat refused this order: INVALID_REQUEST: 无效请求; query: ") ? "refused" : "retry"
                default: "\(change)"
                }
            #expect(got == expected, "\(claim), then \(String(describing: query)): \(change)")
        }
    }

    /// The refusal still ends the order `failed` once its attempts are spent, with the reason.
    @Test func anInvalidRequestThatTheQueryDoesNotOverruleFailsWhenTheAttemptsAreSpent() {
        let last = ClaimedOrder(
            id: 1, mchID: "1900000109", appID: "wx2421b1c4370ec43b", outTradeNo: "T1", subMchID: nil,
            subAppID: nil, createdAt: 1_800_000_000, timeoutSeconds: 0, attempt: 10, inDoubt: false,
            firstAttemptAt: 1_800_000_305_000, leaseToken: "t")
        let change = CloseDecision.afterQuery(
            last, because: .unconfirmed(.rejected("INVALID_REQUEST: 无效请求")),
            query: .state(.notPay, transactionID: nil), now: Self.now, retry: RetryPolicy(), jitterUnit: 0.5)
        guard case .finish(.failed, nil, nil, let reason?) = change else {
            Issue.record("got \(change)")
            return
        }
        #expect(reason.contains("WeChat refused this order: INVALID_REQUEST"), "\(reason)")
    }

    /// Issue 21's audit vocabulary: every close and query outcome maps to one word of the closed
    /// list, and the internal name of v3's 204 is in none of them or their words.
    @Test func everyOutcomeHasOneAuditWord() {
        let closes: [(CloseOutcome, AuditOutcome, String?)] = [
            (.closed, .closed, nil), (.alreadyClosed, .alreadyClosed, nil), (.notExist, .notExist, nil), (.paid, .paid, nil),
            (.retryable(.frequencyLimited), .retry, "retry (FREQUENCY_LIMITED)"),
            (.configurationError("SIGNERROR"), .configError, "configuration error (SIGNERROR)"),
            (.orderRejected("PARAM_ERROR"), .orderRejected, "order rejected (PARAM_ERROR)"),
            (.unknownCode("TRADE_ERROR"), .unknownCode, "unknown err_code TRADE_ERROR"),
            (.unconfirmed(.closed), .closed, nil), (.unconfirmed(.alreadyClosed), .alreadyClosed, nil),
            (.unconfirmed(.notExist), .notExist, nil),
            (.unconfirmed(.rejected("INVALID_REQUEST: x")), .orderRejected, "order rejected (INVALID_REQUEST: x)"),
        ]
        for (close, word, words) in closes {
            #expect(AuditOutcome(close) == word && AuditOutcome.words(close) == words, "\(close)")
            #expect(!"\(AuditOutcome(close).rawValue) \(words ?? "")".contains("204"))
        }
        let queries: [(QueryOutcome, AuditOutcome, String?)] =
            TradeState.allCases.map { state in
                let word: AuditOutcome =
                    state.isPaid ? .paid : state.isFinallyUnpaid ? .closed : state.isPaymentInProgress ? .paying : .notPaid
                return (.state(state, transactionID: "42"), word, "trade_state \(state.rawValue)")
            } + [
                (.notExist, .notExist, nil), (.retryable(.httpStatus(500)), .retry, "retry (HTTP 500)"),
                (.configurationError("NO_AUTH"), .configError, "configuration error (NO_AUTH)"),
                (.orderRejected("PARAM_ERROR"), .orderRejected, "order rejected (PARAM_ERROR)"),
                (.unknownCode("ORDER_CLOSED"), .unknownCode, "unknown err_code ORDER_CLOSED"),
            ]
        for (query, word, words) in queries {
            #expect(AuditOutcome(query) == word && AuditOutcome.words(query) == words, "\(query)")
        }
        #expect(
            Set(AuditOutcome.allCases.map(\.rawValue)) == [
                "closed", "already_closed", "not_exist", "paid", "not_paid", "paying",
                "retry", "config_error", "order_rejected", "unknown_code",
            ])
        #expect(ClosingMetrics.outcomes == AuditOutcome.allCases.map(\.rawValue))
    }

    @Test func anOrdersRefusalBacksOffAndNeverPausesTheMerchant() {
        let next = CloseDecision.afterClose(
            Self.order, outcome: .orderRejected("PARAM_ERROR"), delivered: true, now: Self.now,
            retry: RetryPolicy(), jitterUnit: 0.5)
        guard case .change(.retry(let at, let reason, _, let refund)) = next else {
            Issue.record("expected a retry, got \(next)")
            return
        }
        #expect(at == Self.now + 5_000 && !refund && reason.contains("PARAM_ERROR"))
    }

    @Test func theGateAdmitsByCircuitPauseAndRateToken() {
        let key = try! APIKey("192006250b4c09247ec02edce69f6a2d")
        func profile(_ mchID: String, rate: Double, burst: Double) -> MerchantProfile {
            MerchantProfile(merchant: ScriptedMerchant(mchID), appIDs: ["wx"], ratePerSecond: rate, burst: burst)
        }
        var gate = MerchantGate(
            merchants: [profile("A", rate: 100, burst: 100), profile("B", rate: 1, burst: 3)],
            unavailable: ["C": "no key"])
        var (request, _) = gate.claimRequest(limit: 16, now: 0)
        #expect(request.excludedMerchants == ["C"])
        #expect(request.merchantLimits == ["B": 3])
        let claimedB = (0..<3).map {
            ClaimedOrder(
                id: Int64($0), mchID: "B", appID: "wx", outTradeNo: "B\($0)", subMchID: nil, subAppID: nil,
                createdAt: 0, timeoutSeconds: 0, attempt: 1, inDoubt: false, firstAttemptAt: 0, leaseToken: "t")
        }
        gate.started(claimedB, now: 0)
        (request, _) = gate.claimRequest(limit: 16, now: 0)
        #expect(request.excludedMerchants == ["B", "C"])
        let nextToken = gate.nextChange(now: 0)
        #expect(nextToken == 1_000)
        (request, _) = gate.claimRequest(limit: 16, now: 1_000)
        #expect(request.merchantLimits == ["B": 1])

        let sub = CircuitKey(mchID: "A", subMchID: "S1")
        let opened = gate.record(.configurationError("SIGNERROR"), for: sub, now: 1_000)
        #expect(opened == .opened(sub, until: 61_000, reason: "SIGNERROR"))
        (request, _) = gate.claimRequest(limit: 16, now: 1_000)
        #expect(request.excludedCircuits == [sub])
        #expect(request.admits(mchID: "A", subMchID: "S2") && !request.admits(mchID: "A", subMchID: "S1"))
        let changes = gate.claimRequest(limit: 16, now: 61_000).changes
        #expect(changes == [.halfOpen(sub)])
        let closed = gate.record(.healthy, for: sub, now: 61_100)
        #expect(closed == .closed(sub))
    }
}

@Suite struct TimeBudgetTests {
    @Test(arguments: [
        // connect, total, failover, lease, grace → errors, warnings
        (Int64(5_000), Int64(10_000), true, Int64(60_000), Int64(15_000), 0, 0),  // the defaults: 45 s budget
        (5_000, 10_000, true, 40_000, 15_000, 0, 1),  // above an attempt, below the budget
        (5_000, 10_000, true, 20_000, 15_000, 1, 0),  // shorter than an attempt
        (1_000, 1_000, false, 3_000, 3_000, 0, 0),  // issue 10's rate-limit config
        (1_000, 1_000, true, 3_000, 1_000, 1, 1),
        (500, 10_000, false, 60_000, 5_000, 0, 1),  // grace shorter than a call
    ])
    func findingsFollowTheTable(
        connect: Int64, total: Int64, failover: Bool, lease: Int64, grace: Int64, errors: Int, warnings: Int
    ) {
        let budget = TimeBudget(
            connectTimeoutMs: connect, totalTimeoutMs: total, failover: failover, leaseMs: lease, shutdownGraceMs: grace)
        let found = budget.findings
        #expect(found.filter { if case .error = $0 { true } else { false } }.count == errors, "\(found)")
        #expect(found.filter { if case .warning = $0 { true } else { false } }.count == warnings, "\(found)")
    }
}
