import OrderClosing
import OrderClosingTestSupport
import Testing
import WeChatPayV2

/// Issue 21: refusals of a few orders' own parameters never pause their merchant. The circuit
/// counts each refused order once (its retries are not new evidence); when refusals look
/// merchant-wide a probe (a made-up order's query) decides, and only a refused probe pauses.
@Suite struct MerchantCircuitProbeTests {
    @Test func retriesOfOrdersAlreadyCountedAreNeverNewEvidence() {
        var circuit = MerchantCircuit()
        var asked = [1, 2].map { circuit.recordOrderRefused(orderID: $0, appID: "wx", now: 0) }
        _ = circuit.recordHealthy()
        // The same two retried, clustered with one new order: one new piece of evidence, not three.
        asked += ([1, 2, 3, 1, 2, 1, 2] as [Int64]).map { circuit.recordOrderRefused(orderID: $0, appID: "wx", now: 5_000) }
        asked += (0..<10).map { circuit.recordOrderRefused(orderID: 3, appID: "wx", now: 6_000 + Int64($0)) }
        #expect(!asked.contains(true))
        #expect(!circuit.probeWanted && circuit.label == "closed")
    }

    @Test func threeNewOrdersRefusedInARowAskForAProbeNeverForAPause() {
        var circuit = MerchantCircuit()
        let asked = [1, 2, 3].map { circuit.recordOrderRefused(orderID: $0, appID: "wxA", now: 1_000) }
        #expect(asked == [false, false, true])
        let admitted = circuit.admits(now: 1_000).admitted
        #expect(circuit.label == "closed" && admitted)
        #expect(circuit.probeTime == 0 && circuit.probeAppID == "wxA")
        // One probe in flight at a time.
        let first = circuit.startProbe(now: 1_000)
        let second = circuit.startProbe(now: 1_000)
        #expect(first && !second && circuit.probeTime == nil)
        let changed = circuit.recordProbe(.proven("ORDERNOTEXIST"), now: 1_200)
        #expect(!changed && circuit.label == "closed" && !circuit.probeWanted)
        // Proven: more new refusals wait out the hold before they may ask again.
        _ = [4, 5, 6].map { circuit.recordOrderRefused(orderID: $0, appID: "wxA", now: 2_000) }
        #expect(circuit.probeTime == 1_200 + MerchantCircuit.provenHoldMs)
        let early = circuit.startProbe(now: 1_200 + MerchantCircuit.provenHoldMs - 1)
        #expect(!early)
        // A verified answer about any order proves the setup as well: the probe is not needed.
        let healthy = circuit.recordHealthy()
        #expect(!healthy && circuit.probeTime == nil)
    }

    @Test func aRefusedProbePausesAndOneWithoutAVerdictIsAskedAgain() {
        var circuit = MerchantCircuit()
        _ = [1, 2, 3].map { circuit.recordOrderRefused(orderID: $0, appID: "wx", now: 0) }
        let sent = circuit.startProbe(now: 0)
        let inconclusive = circuit.recordProbe(.inconclusive("HTTP 500"), now: 100)
        #expect(sent && !inconclusive)
        #expect(circuit.label == "closed" && circuit.probeTime == 100 + MerchantCircuit.inconclusiveRetryMs)
        let again = circuit.startProbe(now: 100 + MerchantCircuit.inconclusiveRetryMs)
        let refused = circuit.recordProbe(.refused("return_code FAIL: mch_id参数错误"), now: 10_200)
        #expect(again && refused)
        guard case .open(let until, let reason) = circuit.state else {
            Issue.record("a refused probe did not pause: \(circuit.state)")
            return
        }
        #expect(until == 10_200 + MerchantCircuit.firstPauseMs)
        #expect(reason.contains("made-up order") && reason.contains("mch_id参数错误"))
    }

    @Test func theCountedOrdersAreBounded() {
        var circuit = MerchantCircuit()
        for id in 0..<Int64(MerchantCircuit.rememberedOrders + 10) {
            _ = circuit.recordOrderRefused(orderID: id, appID: "wx", now: 0)
            _ = circuit.recordHealthy()
        }
        // The oldest were forgotten: orders 0, 1, 2 count again, and three in a row ask for a probe.
        let asked = [0, 1, 2].map { circuit.recordOrderRefused(orderID: $0, appID: "wx", now: 0) }
        #expect(asked == [false, false, true])
    }

    @Test(arguments: [
        (QueryOutcome.notExist, "proven"),
        (.state(.notPay, transactionID: nil), "proven"),
        (.configurationError("return_code FAIL: 签名错误"), "refused"),
        (.orderRejected("return_code FAIL: appid和mch_id不匹配"), "refused"),
        (.retryable(.badSignature("sign mismatch")), "refused"),
        (.retryable(.httpStatus(500)), "inconclusive"),
        (.retryable(.frequencyLimited), "inconclusive"),
        (.retryable(.systemError), "inconclusive"),
        (.retryable(.connection("refused")), "inconclusive"),
        (.unknownCode("SOMETHING_NEW"), "inconclusive"),
    ])
    func theProbesVerdictFollowsItsTable(_ outcome: QueryOutcome, _ expected: String) {
        let verdict: String =
            switch MerchantProbe.verdict(outcome) {
            case .proven: "proven"
            case .refused: "refused"
            case .inconclusive: "inconclusive"
            }
        #expect(verdict == expected, "\(outcome)")
    }

    @Test func theGateHandsOutProbesAndWakesForThem() {
        let key = try! APIKey("192006250b4c09247ec02edce69f6a2d")
        let profiles = ["A", "B"].map {
            MerchantProfile(merchant: ScriptedMerchant($0), appIDs: ["wx"])
        }
        var gate = MerchantGate(merchants: profiles)
        let a = CircuitKey(mchID: "A", subMchID: nil)
        let b = CircuitKey(mchID: "B", subMchID: "S1")
        for id in [1, 2, 3] as [Int64] {
            #expect(gate.record(.orderRefused(orderID: id, appID: "wx"), for: a, now: 0) == nil)
            #expect(gate.record(.orderRefused(orderID: 10 + id, appID: "wx"), for: b, now: 0) == nil)
        }
        let excluded = gate.claimRequest(limit: 16, now: 0).request.excludedCircuits
        #expect(excluded.isEmpty)
        _ = gate.setPaused(["B": "operator"])
        let wake = gate.nextChange(now: 0)
        let probes = gate.probesToSend(now: 0)
        let again = gate.probesToSend(now: 0)
        let idle = gate.nextChange(now: 0)
        #expect(wake == 0)
        #expect(probes == [MerchantProbe(key: a, appID: "wx")])
        #expect(again.isEmpty, "a second probe while one is in flight")
        #expect(idle == nil, "woke for a paused merchant's probe")
        let none = gate.record(.inconclusive("timeout"), of: MerchantProbe(key: a, appID: "wx"), now: 50)
        let retryAt = gate.nextChange(now: 50)
        #expect(none == nil && retryAt == 50 + MerchantCircuit.inconclusiveRetryMs)
        let opened = gate.record(.refused("NO_AUTH"), of: MerchantProbe(key: a, appID: "wx"), now: 60)
        #expect(
            opened
                == .opened(
                    a, until: 60 + MerchantCircuit.firstPauseMs,
                    reason: "orders were refused, and so was a query for a made-up order: NO_AUTH"))
    }
}

/// The closing loop with the probe: a `ClosingService` on the in-memory store, a manual clock and
/// the scripted gateway (unscripted probes answer a signed ORDERNOTEXIST).
@Suite struct BadRowsInTheLoopTests {
    typealias H = WorkerHarness

    static func refusals(_ count: Int) -> [ScriptedGateway.CloseStep] {
        Array(repeating: .answer(.orderRejected("PARAM_ERROR: 参数格式校验错误"), errCode: "PARAM_ERROR"), count: count)
    }

    @Test func badRowsRetriedTogetherNeverHoldUpTheMerchantsOtherOrders() async throws {
        var retry = RetryPolicy()
        retry.maxAttempts = 3
        let h = try WorkerHarness(retry: retry)
        defer { h.database.remove() }
        for index in 0..<3 {
            try h.database.insert("BAD\(index)", createdAt: H.created)
            h.gateway.scriptClose("BAD\(index)", Self.refusals(3))
        }
        let goods = (1...3).map { (name: "GOOD\($0)", createdAt: H.created + 2 + 5 * Int64($0 - 1)) }
        for good in goods { try h.database.insert(good.name, createdAt: good.createdAt) }
        let task = Task { try await h.service.run() }
        await h.settle(recorded: 0)

        // The three refusals in a row look merchant-wide: one probe, which proves the setup.
        await h.advance(to: H.dueMs(), thenRecorded: 3)
        #expect(h.gateway.probes.map(\.at) == [H.dueMs()])
        #expect(h.gateway.probes.first?.key == CircuitKey(mchID: H.mchA, subMchID: nil))
        #expect(h.gateway.probes.first?.appID == H.appID)
        // Healthy orders between the bad ones' clustered retries (5 s and 15 s after their due
        // time) go out at their own due times: 2, 7 and 12 s after the bad ones'.
        await h.advance(to: H.dueMs(goods[0].createdAt), thenRecorded: 4)
        await h.advance(to: H.dueMs() + 5_000, thenRecorded: 7)
        await h.advance(to: H.dueMs(goods[1].createdAt), thenRecorded: 8)
        await h.advance(to: H.dueMs(goods[2].createdAt), thenRecorded: 9)
        await h.advance(to: H.dueMs() + 15_000, thenRecorded: 12)
        for good in goods {
            #expect(h.callTimes(good.name) == [H.dueMs(good.createdAt)], "\(good.name) was held up")
        }
        for index in 0..<3 {
            let row = try #require(try h.database.row("BAD\(index)"))
            #expect(row["status"] as String == "failed")
            #expect(row["attempts"] as Int == 3)
            #expect((row["last_error"] as String?)?.contains("PARAM_ERROR") == true)
        }
        #expect(h.gateway.probes.count == 1, "retries asked again: \(h.gateway.probes)")
        #expect(try h.database.published("circuit:\(H.mchA)") == nil, "the merchant's circuit moved")
        task.cancel()
        _ = await task.result
    }

    @Test func aMerchantWideRefusalPausesOnceTheProbeIsRefusedToo() async throws {
        let h = try WorkerHarness()
        defer { h.database.remove() }
        for index in 0..<3 {
            try h.database.insert("A\(index)", createdAt: H.created, mchID: H.mchA)
            h.gateway.scriptClose("A\(index)", Self.refusals(1))
        }
        try h.database.insert("A-LATER", createdAt: H.created + 2, mchID: H.mchA)
        try h.database.insert("B-LATER", createdAt: H.created + 2, mchID: H.mchB)
        h.gateway.scriptProbe(H.mchA, [.orderRejected("return_code FAIL: appid和mch_id不匹配")])
        let task = Task { try await h.service.run() }
        await h.settle(recorded: 0)

        await h.advance(to: H.dueMs(), thenRecorded: 3)
        #expect(h.gateway.probes.count == 1)
        #expect(try h.database.published("circuit:\(H.mchA)").map(PublishedCircuit.init(published:))?.state == .open)
        await h.advance(to: H.dueMs(H.created + 2), thenRecorded: 4)
        #expect(h.callTimes("B-LATER") == [H.dueMs(H.created + 2)], "another merchant was held up")
        #expect(h.callTimes("A-LATER").isEmpty, "a paused merchant's order was sent")

        // The pause ends with a probe before any order; proven, the merchant is served again.
        let reopen = H.dueMs() + MerchantCircuit.firstPauseMs
        await h.advance(to: reopen, thenRecorded: 8)
        #expect(h.gateway.probes.map(\.at) == [H.dueMs(), reopen])
        let firstCallAfter = h.gateway.calls.firstIndex { $0.at == reopen }
        #expect(
            firstCallAfter.map { h.gateway.calls[$0].outTradeNo }
                == ScriptedGateway.Probe.callName(CircuitKey(mchID: H.mchA, subMchID: nil)))
        #expect(h.callTimes("A-LATER") == [reopen])
        #expect(try h.database.row("A-LATER")?["attempts"] as Int? == 1)
        #expect(try h.database.published("circuit:\(H.mchA)").map(PublishedCircuit.init(published:))?.state == .closed)
        task.cancel()
        _ = await task.result
    }

    @Test func aProbeWithoutAVerdictNeverPausesAndIsAskedAgain() async throws {
        let h = try WorkerHarness()
        defer { h.database.remove() }
        for index in 0..<3 {
            try h.database.insert("BAD\(index)", createdAt: H.created)
            h.gateway.scriptClose("BAD\(index)", Self.refusals(2))
        }
        h.gateway.scriptProbe(H.mchA, [.retryable(.httpStatus(500))])
        let task = Task { try await h.service.run() }
        await h.settle(recorded: 0)
        await h.advance(to: H.dueMs(), thenRecorded: 3)
        #expect(h.gateway.probes.count == 1)
        // The retries 5 s later are no new evidence; the suspicion stands until a probe answers.
        await h.advance(to: H.dueMs() + 5_000, thenRecorded: 6)
        #expect(h.gateway.probes.count == 1)
        await h.advance(to: H.dueMs() + MerchantCircuit.inconclusiveRetryMs, thenRecorded: 6)
        #expect(h.gateway.probes.map(\.at) == [H.dueMs(), H.dueMs() + MerchantCircuit.inconclusiveRetryMs])
        #expect(try h.database.published("circuit:\(H.mchA)") == nil)
        task.cancel()
        _ = await task.result
    }
}
