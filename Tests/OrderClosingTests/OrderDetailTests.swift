import OrderClosing
import Testing

/// The typed order detail's words (issue 23.4): a store reads `status`, `outcome` and `operation`
/// into their types, and a word the schema should never have held is an error naming its column.
@Suite struct OrderDetailTests {
    @Test func aKnownWordIsItsType() throws {
        #expect(try OrderDetail.word("closing", column: "pending_orders.status") as OrderStatus == .closing)
        #expect(try OrderDetail.word("already_closed", column: "pending_orders.outcome") as AuditOutcome == .alreadyClosed)
        #expect(try OrderDetail.word("orderquery", column: "close_attempts.operation") as AttemptRecord.Call == .orderQuery)
    }

    @Test func anUnknownWordNamesItsColumnAndValue() {
        #expect {
            _ = try OrderDetail.word("closed_by_hand", column: "pending_orders.status") as OrderStatus
        } throws: { error in
            "\(error)" == #"pending_orders.status holds "closed_by_hand", which this closeorderd does not know"#
        }
    }

    @Test func anAttemptsDurationIsItsTwoTimesApart() {
        let attempt = OrderDetail.Attempt(
            id: 1, orderID: 1, mchID: "1900000109", outTradeNo: "A", attempt: 1, call: .closeOrder, startedMs: 1_000,
            finishedMs: 1_250, endpoint: nil, httpStatus: nil, returnCode: nil, returnMsg: nil, resultCode: nil, errCode: nil,
            errCodeDes: nil, outcome: .retry, error: nil, verified: nil)
        #expect(attempt.durationMs == 250)
    }
}
