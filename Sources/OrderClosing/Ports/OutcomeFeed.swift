/// The finished orders, read in `(finished_ms, id)` order from a cursor: what the merchant's app
/// (or `closeorderd watch`) uses to learn each outcome once.
///
/// The stores guarantee that a row never becomes visible with a cursor below one already
/// visible: every transaction that finishes rows stamps them above every stamp committed before
/// it (see migration 8 of each store). So a reader that goes on from the last cursor it handled
/// misses nothing and reads nothing twice, however the daemons' transactions interleave.
///
/// | who finished the row             | when it enters the feed              | again?                       |
/// |----------------------------------|--------------------------------------|------------------------------|
/// | the daemon (closed, paid, failed)| at the commit of that outcome        | –                            |
/// | the app (`paid`)                 | at the app's commit                  | once more if a racing close  |
/// |                                  |                                      |   then sets `conflict`       |
/// | an operator (`abandon`)          | at that commit (`failed`)            | –                            |
/// | `requeue` (failed → pending)     | leaves the feed until it ends again  | yes, with its new outcome    |
public protocol OutcomeFeed: Sendable {
    /// At most `limit` orders finished after `cursor`, in cursor order.
    func finishedOrders(after cursor: FeedCursor, limit: Int) async throws -> [FinishedOrder]

    /// The cursor of the newest finished order (`FeedCursor.start` when there is none): where a
    /// reader starts that wants only what finishes from now on.
    func feedEnd() async throws -> FeedCursor
}
