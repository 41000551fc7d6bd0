import OrderClosing
import Testing
import WeChatPayV2

/// `CloseDecision`'s tables and `MerchantGate`'s, row by row, with no store and no clock.
@Suite struct DecisionTableTests {
    static let order = ClaimedOrder(id: 1, mchID: "1900000109", appID: "wx2421b1c4370ec43b", outTradeNo: "T1", subMchID: nil,
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
        let paid = CloseDecision.afterQuery(Self.order, because: "ORDERPAID", query: query, now: Self.now, retry: RetryPolicy(), jitterUnit: 0.5)
        let unknown = CloseDecision.afterQuery(Self.order, because: "TRADE_STATE_ERROR", query: query, now: Self.now, retry: RetryPolicy(), jitterUnit: 0.5)
        #expect(Self.kind(paid) == afterPaid)
        #expect(Self.kind(unknown) == afterUnknown)
        if state == .success, case .finish(_, _, let transactionID, _) = paid { #expect(transactionID == "4200000001") }
    }

    /// Issue 11's pushback: FREQUENCY_LIMITED and 429 give the attempt back and retry after
    /// about a second whatever the attempt; other retryable answers back off by the attempt.
    @Test(arguments: [RetryReason.frequencyLimited, .httpStatus(429)])
    func pushbackRetriesAfterASecondWithTheAttemptGivenBack(reason: RetryReason) {
        let third = ClaimedOrder(id: 1, mchID: "1900000109", appID: "wx2421b1c4370ec43b", outTradeNo: "T1", subMchID: nil,
                                 subAppID: nil, createdAt: 1_800_000_000, timeoutSeconds: 0, attempt: 3, inDoubt: false,
                                 firstAttemptAt: 1_800_000_305_000, leaseToken: "t")
        let next = CloseDecision.afterClose(third, outcome: .retryable(reason), delivered: true, now: Self.now,
                                            retry: RetryPolicy(), jitterUnit: 0.5)
        guard case .change(.retry(let at, _, _, let refund)) = next else { Issue.record("got \(next)"); return }
        #expect(at == Self.now + 1_000)
        #expect(refund)
        let backoff = CloseDecision.afterClose(third, outcome: .retryable(.systemError), delivered: true, now: Self.now,
                                               retry: RetryPolicy(), jitterUnit: 0.5)
        guard case .change(.retry(let later, _, _, false)) = backoff else { Issue.record("got \(backoff)"); return }
        #expect(later == Self.now + 20_000, "SYSTEMERROR after attempt 3 waits the backoff's 20 s")
    }

    /// Issue 14: v3's 204 is decided by the query; an order WeChat never saw is closed (not_exist),
    /// as a close's ORDERNOTEXIST is, and a confirmed close reads `closed`.
    @Test func aV3NoContentCloseIsDecidedByTheQuery() {
        func after(_ query: QueryOutcome?, because: String = "CLOSE_204") -> OrderChange {
            CloseDecision.afterQuery(Self.order, because: because, query: query, now: Self.now, retry: RetryPolicy(), jitterUnit: 0.5)
        }
        #expect(CloseDecision.afterClose(Self.order, outcome: .unknownCode("CLOSE_204"), delivered: true, now: Self.now,
                                         retry: RetryPolicy(), jitterUnit: 0.5) == .query(because: "CLOSE_204"))
        guard case .finish(.closed, "closed"?, nil, nil) = after(.state(.closed, transactionID: nil)) else { Issue.record("not closed"); return }
        guard case .finish(.closed, "not_exist"?, nil, nil) = after(.notExist) else { Issue.record("not exist is not closed"); return }
        guard case .finish(.closed, "already_closed"?, nil, nil) = after(.state(.closed, transactionID: nil), because: "TRADE_ERROR") else {
            Issue.record("an unknown code's CLOSED is not already_closed"); return
        }
        guard case .finish(.paid, "paid"?, "4200000001"?, nil) = after(.state(.success, transactionID: "4200000001")) else { Issue.record("not paid"); return }
        #expect(Self.kind(after(.state(.notPay, transactionID: nil))) == .retry)
        #expect(Self.kind(after(nil)) == .retry)
        // A signed ORDERPAID still stands against a query that finds no order.
        #expect(Self.kind(after(.notExist, because: "ORDERPAID")) == .paid)
    }

    @Test func anOrdersRefusalBacksOffAndNeverPausesTheMerchant() {
        let next = CloseDecision.afterClose(Self.order, outcome: .orderRejected("PARAM_ERROR"), delivered: true, now: Self.now,
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
            MerchantProfile(credentials: MerchantCredentials(mchID: mchID, signType: .md5, key: key), appIDs: ["wx"], ratePerSecond: rate, burst: burst)
        }
        var gate = MerchantGate(merchants: [profile("A", rate: 100, burst: 100), profile("B", rate: 1, burst: 3)],
                                unavailable: ["C": "no key"])
        var (request, _) = gate.claimRequest(limit: 16, now: 0)
        #expect(request.excludedMerchants == ["C"])
        #expect(request.merchantLimits == ["B": 3])
        let claimedB = (0..<3).map { ClaimedOrder(id: Int64($0), mchID: "B", appID: "wx", outTradeNo: "B\($0)", subMchID: nil, subAppID: nil,
                                                    createdAt: 0, timeoutSeconds: 0, attempt: 1, inDoubt: false, firstAttemptAt: 0, leaseToken: "t") }
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
        (Int64(5_000), Int64(10_000), true, Int64(60_000), Int64(15_000), 0, 0),   // the defaults: 45 s budget
        (5_000, 10_000, true, 40_000, 15_000, 0, 1),                               // above an attempt, below the budget
        (5_000, 10_000, true, 20_000, 15_000, 1, 0),                               // shorter than an attempt
        (1_000, 1_000, false, 3_000, 3_000, 0, 0),                                 // issue 10's rate-limit config
        (1_000, 1_000, true, 3_000, 1_000, 1, 1),
        (500, 10_000, false, 60_000, 5_000, 0, 1),                                 // grace shorter than a call
    ])
    func findingsFollowTheTable(connect: Int64, total: Int64, failover: Bool, lease: Int64, grace: Int64, errors: Int, warnings: Int) {
        let budget = TimeBudget(connectTimeoutMs: connect, totalTimeoutMs: total, failover: failover, leaseMs: lease, shutdownGraceMs: grace)
        let found = budget.findings
        #expect(found.filter { if case .error = $0 { true } else { false } }.count == errors, "\(found)")
        #expect(found.filter { if case .warning = $0 { true } else { false } }.count == warnings, "\(found)")
    }
}
