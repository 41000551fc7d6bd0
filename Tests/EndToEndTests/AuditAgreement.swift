import GRDB

/// One order's audit rows against the calls the fake received. Every call the fake saw has its
/// row, and every answered row was seen; a row may go beyond the fake's record only without an
/// answer: an attempt whose request never reached the fake (on a loaded machine a connection can
/// take longer than a test's 500 ms connect timeout). Rows the fake never saw, with an answer,
/// or calls without a row, break it.
struct AuditAgreement: CustomStringConvertible {
    let order: String
    let recorded: Int
    let answered: Int
    let seen: Int

    var holds: Bool { answered <= seen && seen <= recorded }

    var description: String { "\(order): \(recorded) attempts recorded (\(answered) answered), the fake saw \(seen)" }

    /// Close attempts (`operation = 'closeorder'`, or every operation) per order, and how many of
    /// them carry an HTTP status.
    static func closeRows(_ db: Database, everyOperation: Bool = false) throws -> [String: (recorded: Int, answered: Int)] {
        let rows = try Row.fetchAll(
            db,
            sql: """
                SELECT out_trade_no, count(*) AS recorded, count(http_status) AS answered FROM close_attempts
                WHERE operation = 'closeorder' OR ? GROUP BY out_trade_no
                """, arguments: [everyOperation])
        return Dictionary(
            uniqueKeysWithValues: rows.map { row -> (String, (recorded: Int, answered: Int)) in
                (row["out_trade_no"], (row["recorded"], row["answered"]))
            })
    }

    /// The agreement for each of `orders`, from the audit counts and the fake's close calls per order.
    static func check(_ orders: [String], audit: [String: (recorded: Int, answered: Int)], seen: [String: Int])
        -> [AuditAgreement]
    {
        orders.map { order in
            AuditAgreement(
                order: order, recorded: audit[order]?.recorded ?? 0, answered: audit[order]?.answered ?? 0, seen: seen[order] ?? 0
            )
        }
    }
}
