/// The statements that record the daemon's closes, named so that tests can ask SQLite what each
/// costs (`EXPLAIN`): migration 7 keeps them to the temporary b-trees schema 1's CHECKs need, and a
/// batch's finishes and audit rows are one statement each, whatever their number (issue 24).
///
/// | statement       | runs                          | writes                                            |
/// |-----------------|-------------------------------|---------------------------------------------------|
/// | `finishes(n)`   | per batch (n decided, ≤ 64)   | outcome, finish time; lease cleared               |
/// | `retry`         | per order to try again        | retry time and reason; lease cleared              |
/// | `contradiction` | per order WeChat contradicted | `failed` with the conflict for a person           |
/// | `attempts(n)`   | per batch (n calls, ≤ 64)     | one `close_attempts` row per call to WeChat Pay   |
///
/// Every UPDATE is a compare-and-set on the claim's lease token (the merchant's `paid` wins).
enum WriteSQL {
    /// `rows` finishes: each row of the VALUES (`id, token, status, outcome, transaction_id,
    /// last_error, last_err_code, refund, rescued`) is written only while its lease holds (or, for
    /// a rescued row in doubt, while it is still pending with no lease); then `finished_ms`.
    static func finishes(_ rows: Int) -> String {
        """
        WITH w(w_id, w_token, w_status, w_outcome, w_transaction_id, w_error, w_err_code, w_refund, w_rescued) AS (
            VALUES \(Array(repeating: "(?, ?, ?, ?, ?, ?, ?, ?, ?)", count: rows).joined(separator: ", ")))
        UPDATE pending_orders
        SET status = w_status, outcome = w_outcome, transaction_id = coalesce(w_transaction_id, transaction_id),
            last_error = w_error, last_err_code = w_err_code, finished_ms = ?, attempts = max(attempts - w_refund, 0),
            in_doubt = 0, lease_owner = NULL, lease_token = NULL, lease_expires_ms = NULL
        FROM w
        WHERE id = w_id AND (lease_token = w_token AND status = 'closing'
                             OR status = 'pending' AND lease_token IS NULL AND in_doubt = 1 AND w_rescued)
        """
    }

    /// At most this many finishes per UPDATE (9 parameters each).
    static let finishesPerStatement = 64

    static let retry = """
        UPDATE pending_orders
        SET status = 'pending', retry_at_ms = ?, last_error = ?, last_err_code = ?,
            in_doubt = max(in_doubt, ?), attempts = max(attempts - ?, 0),
            lease_owner = NULL, lease_token = NULL, lease_expires_ms = NULL
        WHERE id = ? AND lease_token = ? AND status = 'closing'
        """

    static let contradiction = """
        UPDATE pending_orders
        SET status = 'failed', conflict = ?, last_error = ?, last_err_code = ?, finished_ms = ?, in_doubt = 0,
            lease_owner = NULL, lease_token = NULL, lease_expires_ms = NULL
        WHERE id = ? AND lease_token = ? AND status = 'closing'
        """

    /// `rows` audit rows in one INSERT (a batch's calls: one statement, one trigger frame).
    static func attempts(_ rows: Int) -> String {
        """
        INSERT INTO close_attempts (order_id, mch_id, out_trade_no, attempt, operation, started_ms, finished_ms,
            endpoint, http_status, return_code, return_msg, result_code, err_code, err_code_des, outcome, error, verified)
        VALUES \(Array(repeating: "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", count: rows).joined(separator: ", "))
        """
    }

    /// At most this many rows per INSERT: 17 parameters each stays far below SQLite's 32,766.
    static let attemptsPerStatement = 64
}
