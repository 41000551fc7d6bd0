import Logging

/// A due row that makes the claim fail by its own values (issue 21: a row's error is that row's,
/// never an outage of the queue). The stores claim such a batch row by row; the row that still
/// fails ends `failed` with this reason, and the others are claimed.
public enum UnclaimableRow {
    /// `last_error` of the row.
    public static func lastError(_ reason: String) -> String {
        "closeorderd could not claim this row: \(reason). Fix the row, then requeue it"
    }

    /// One error line per row, by name (`failed` false: the row could not even be marked failed,
    /// and the claims go on around it).
    public static func log(_ logger: Logger, id: Int64, mchID: String?, outTradeNo: String?, reason: String, failed: Bool) {
        let name = outTradeNo.map { "order \($0) (mch \(mchID ?? "?"))" } ?? "row id \(id)"
        var metadata: Logger.Metadata = ["row_id": "\(id)", "reason": "\(reason)"]
        if let outTradeNo { metadata["out_trade_no"] = "\(outTradeNo)" }
        if let mchID { metadata["mch_id"] = "\(mchID)" }
        if failed {
            logger.error("\(name) cannot be claimed and ends failed: \(reason); the other orders are claimed", metadata: metadata)
        } else {
            logger.error(
                "\(name) cannot be claimed, nor marked failed: \(reason); it is skipped and the other orders are claimed",
                metadata: metadata)
        }
    }
}
