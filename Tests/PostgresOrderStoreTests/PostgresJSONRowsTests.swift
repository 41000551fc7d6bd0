import Foundation
import Testing

@testable import PostgresOrderStore

/// The batch's JSON rows, written by hand (issue 24): what a JSON parser reads back must be
/// exactly the values written, whatever a WeChat message or a merchant's order number holds.
struct PostgresJSONRowsTests {
    @Test func twoRowsWithEveryKindOfValue() throws {
        var rows = PostgresJSONRows()
        rows.row()
        rows.field("id", Int64(7))
        rows.field("token", "a")
        rows.field("reason", String?.none)
        rows.field("refund", 1)
        rows.field("rescued_may_take", true)
        rows.row()
        rows.field("id", Int64(-9_000_000_000))
        rows.field("retry_at", Int64?.none)
        rows.field("rescued_may_take", false)
        #expect(
            rows.json
                == #"[{"id":7,"token":"a","reason":null,"refund":1,"rescued_may_take":true},"#
                + #"{"id":-9000000000,"retry_at":null,"rescued_may_take":false}]"#)
    }

    @Test func noRowsIsAnEmptyArray() {
        #expect(PostgresJSONRows().json == "[]")
    }

    @Test func stringsReadBackAsWritten() throws {
        let values = [
            "plain", "", #"quote " and backslash \ and \u0041"#, "line\nfeed\r\ttab", "\u{0}\u{1}\u{1F}\u{7F}",
            "订单 №42 — 🧾", "</script>", "'; DROP TABLE pending_orders; --",
        ]
        var rows = PostgresJSONRows()
        for value in values {
            rows.row()
            rows.field("v", value)
        }
        let parsed = try JSONSerialization.jsonObject(with: Data(rows.json.utf8)) as? [[String: String]]
        #expect(parsed?.map { $0["v"] } == values)
    }
}
