import OrderClosing
import OrderClosingTestSupport
import StoreTestSupport
import Testing

/// Every `OrderIntake` adapter writes the app's rows alike, through the schema's rules: the SQLite
/// store on a real WAL file, the PostgreSQL store on the test cluster, and the in-memory double
/// (which must refuse what the schemas refuse). What was inserted is read back the way the daemon
/// reads it: by claiming it.
@Suite struct OrderIntakeConformanceTests {
    static let created: Int64 = 1_800_000_000
    static let mch = StoreFixtureDefaults.mchID
    static let app = StoreFixtureDefaults.appID
    /// When every order below (timeout ≤ 60 s) has fallen due: the 300 s floor + 5 s margin.
    static let allDueMs = DuePolicy.standard.dueTime(createdAt: created, timeoutSeconds: 0) + 1_000

    func intake(_ fixture: any StoreFixture) throws -> any OrderIntake {
        try #require(fixture.store as? any OrderIntake, "\(type(of: fixture.store)) is not an OrderIntake")
    }

    func order(_ outTradeNo: String, mchID: String = Self.mch, createdAt: Int64 = Self.created, timeout: Int64 = 0) -> NewOrder {
        NewOrder(mchID: mchID, appID: Self.app, outTradeNo: outTradeNo, createdAt: createdAt, timeoutSeconds: timeout)
    }

    func claimAll(_ fixture: any StoreFixture) async throws -> [ClaimedOrder] {
        try await fixture.store.claimDue(
            ClaimRequest(limit: 100), now: Self.allDueMs, leaseOwner: "test", leaseUntil: Self.allDueMs + 60_000
        ).sorted { $0.id < $1.id }
    }

    @Test(arguments: StoreKind.tested)
    func insertsPendingRowsWithTheColumnsTheDaemonReads(kind: StoreKind) async throws {
        let fixture = try await kind.make()
        defer { fixture.remove() }
        let orders = [
            NewOrder(
                mchID: Self.mch, appID: Self.app, outTradeNo: "SP-1_a|b*c@d", subMchID: "1900000201",
                subAppID: "wx8888888888888888", createdAt: Self.created, timeoutSeconds: 60),
            order("PLAIN-2", createdAt: Self.created + 1),
        ]
        let results = try await intake(fixture).insert(orders)
        let ids = results.compactMap { result -> Int64? in
            if case .inserted(let id) = result { return id }
            return nil
        }
        #expect(ids.count == 2 && Set(ids).count == 2, "\(results)")
        for order in orders {
            let row = try #require(try await fixture.stored(order.outTradeNo))
            #expect(row.status == .pending && row.attempts == 0 && !row.inDoubt && row.outcome == nil)
        }

        let claimed = try await claimAll(fixture)
        #expect(claimed.map(\.id) == ids.sorted())
        #expect(
            claimed.map {
                NewOrder(
                    mchID: $0.mchID, appID: $0.appID, outTradeNo: $0.outTradeNo, subMchID: $0.subMchID, subAppID: $0.subAppID,
                    createdAt: $0.createdAt, timeoutSeconds: $0.timeoutSeconds)
            } == orders)
        #expect(try await intake(fixture).insert([]) == [])
    }

    @Test(arguments: StoreKind.tested)
    func aRefusedRowIsNamedByTheSchemaAndTheOthersGoIn(kind: StoreKind) async throws {
        let fixture = try await kind.make()
        defer { fixture.remove() }
        // Each bad row with the column its refusal must name.
        let batch: [(NewOrder, String?)] = [
            (order("GOOD-1"), nil),
            (order("MILLIS", createdAt: Self.created * 1000), "created_at"),
            (order("A.1"), "out_trade_no"),
            (order("TEN-YEARS", timeout: DuePolicy.maxTimeoutSeconds + 1), "timeout_seconds"),
            (order("TAB", mchID: "19000\t00109"), "mch_id"),
            (order("GOOD-1"), "out_trade_no"),  // the same (mch_id, out_trade_no) again
            (order("GOOD-2"), nil),
        ]
        let results = try await intake(fixture).insert(batch.map(\.0))
        try #require(results.count == batch.count, "\(results)")
        for ((row, column), result) in zip(batch, results) {
            switch (result, column) {
            case (.inserted, nil): break
            case (.refused(let reason), let column?):
                #expect(reason.contains(column), "\(row.outTradeNo): the refusal does not name \(column): \(reason)")
            default: Issue.record("\(row.outTradeNo): \(result), expected \(column.map { "refused naming \($0)" } ?? "inserted")")
            }
        }
        for refused in ["MILLIS", "A.1", "TEN-YEARS", "TAB"] { #expect(try await fixture.stored(refused) == nil, "\(refused)") }
        #expect(try await claimAll(fixture).map(\.outTradeNo) == ["GOOD-1", "GOOD-2"])
    }

    @Test(arguments: StoreKind.tested)
    func markPaidSetsPaidOnlyOnTheMerchantsOpenRow(kind: StoreKind) async throws {
        let fixture = try await kind.make()
        defer { fixture.remove() }
        let intake = try intake(fixture)
        _ = try await intake.insert([order("PAID-1"), order("CLAIMED-2"), order("PAID-1", mchID: "1900000110")])
        #expect(try await intake.markPaid(mchID: Self.mch, outTradeNo: "PAID-1"))
        #expect(try await !intake.markPaid(mchID: Self.mch, outTradeNo: "PAID-1"), "already paid: nothing to change")
        #expect(try await !intake.markPaid(mchID: Self.mch, outTradeNo: "NO-SUCH"))

        // A close in flight: the app's write still wins (design.md §2). The paid row is not claimed;
        // the other merchant's PAID-1 is.
        let claimed = try await claimAll(fixture).map { "\($0.mchID)/\($0.outTradeNo)" }
        #expect(claimed == ["\(Self.mch)/CLAIMED-2", "1900000110/PAID-1"])
        #expect(try await intake.markPaid(mchID: Self.mch, outTradeNo: "CLAIMED-2"))
        #expect(try await fixture.stored("CLAIMED-2")?.status == .paid)
        // The other merchant's PAID-1 was left alone by the first mark.
        #expect(try await intake.markPaid(mchID: "1900000110", outTradeNo: "PAID-1"))
    }
}
