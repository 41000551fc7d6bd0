import OrderClosing
import Testing

@Suite struct PolicyTests {
    @Test func dueTimeHasTheFiveMinuteFloor() throws {
        let due = DuePolicy.standard
        #expect(due.dueTime(createdAt: 1000, timeoutSeconds: 0) == 1_305_000)
        #expect(due.dueTime(createdAt: 1000, timeoutSeconds: 299) == 1_305_000)
        #expect(due.dueTime(createdAt: 1000, timeoutSeconds: 301) == 1_306_000)
        #expect(try DuePolicy(minAgeSeconds: 600, marginSeconds: 5).dueTime(createdAt: 1000, timeoutSeconds: 0) == 1_605_000)
        #expect(throws: PolicyError.self) { try DuePolicy(minAgeSeconds: 299) }
        #expect(throws: PolicyError.self) { try DuePolicy(marginSeconds: -1) }
    }

    @Test func retryDelaysFollowTheDocumentedTable() {
        let retry = RetryPolicy()
        let table: [(Int, Int64)] = [
            (1, 5_000), (2, 10_000), (3, 20_000), (4, 40_000), (5, 80_000),
            (6, 160_000), (7, 320_000), (8, 600_000), (9, 600_000), (60, 600_000),
        ]
        for (attempt, delay) in table {
            #expect(retry.baseDelay(afterAttempt: attempt) == delay, "after attempt \(attempt)")
        }
        #expect(retry.delay(afterAttempt: 1, unit: 0) == 4_000)
        #expect(retry.delay(afterAttempt: 1, unit: 0.5) == 5_000)
        #expect(retry.delay(afterAttempt: 1, unit: 0.999_999) == 5_999)
        #expect(retry.exhaustion(attempt: 9, firstAttemptAt: 0, nextAt: 1) == nil)
        #expect(retry.exhaustion(attempt: 10, firstAttemptAt: 0, nextAt: 1) != nil)
        #expect(retry.exhaustion(attempt: 1, firstAttemptAt: 0, nextAt: retry.windowMs + 1) != nil)
    }

    @Test func circuitOpensHalfOpensAndCloses() {
        var circuit = MerchantCircuit()
        let r1 = circuit.admits(now: 0)
        #expect(r1.admitted)
        let r2 = circuit.recordConfigurationError("SIGNERROR", now: 1_000)
        #expect(r2)
        let r3 = circuit.admits(now: 60_999)
        #expect(!r3.admitted)
        // Half-open admits no order: a probe (a made-up order's query) goes first.
        let reopened = circuit.admits(now: 61_000)
        #expect(!reopened.admitted && reopened.changed && circuit.label == "half_open")
        let probing = circuit.startProbe(now: 61_000)
        #expect(probing)
        // A failed probe doubles the pause.
        let r4 = circuit.recordProbe(.refused("SIGNERROR"), now: 62_000)
        #expect(r4)
        let r5 = circuit.admits(now: 62_000 + 119_999)
        #expect(!r5.admitted)
        let r6 = circuit.admits(now: 62_000 + 120_000)
        #expect(!r6.admitted && r6.changed)
        let probingAgain = circuit.startProbe(now: 62_000 + 120_000)
        #expect(probingAgain)
        let r7 = circuit.recordProbe(.proven("ORDERNOTEXIST"), now: 62_000 + 120_100)
        #expect(r7)
        let admitted = circuit.admits(now: 62_000 + 120_100).admitted
        #expect(circuit.label == "closed" && admitted)
        let r8 = circuit.recordHealthy()
        #expect(!r8)
    }

    @Test func tokenBucketSpacesCallsAtTheRate() {
        var bucket = TokenBucket(ratePerSecond: 10, burst: 2)
        let full = bucket.available(now: 0)
        #expect(full == 2)
        bucket.take(2, now: 0)
        let empty = bucket.available(now: 0)
        let next = bucket.nextTokenAt(now: 0)
        #expect(empty == 0 && next == 100)
        let early = bucket.available(now: 99)
        let onTime = bucket.available(now: 100)
        #expect(early == 0 && onTime == 1)
        let later = bucket.available(now: 10_000)
        #expect(later == 2, "tokens never exceed the burst")
    }
}
