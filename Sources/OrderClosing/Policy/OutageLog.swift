/// Decides when the journal speaks about a WeChat Pay outage (calls not delivered): once when it
/// starts, once when it ends, instead of one warning per waiting order every `outage_delay_ms`.
/// Pure: fed the closer's results and an injected `now`; the loop owns it and writes the lines.
///
/// | in an outage | call seen        | line                                        | then            |
/// |--------------|------------------|---------------------------------------------|-----------------|
/// | no           | not delivered    | `.started` (cause, orders waiting: 1)       | in an outage    |
/// | yes          | not delivered    | none (the order is counted once)            | in an outage    |
/// | yes          | delivered        | `.ended` (how long, how many orders waited) | not in an outage|
/// | no           | delivered        | none                                        | not in an outage|
public struct OutageLog: Sendable {
    /// What one call says about WeChat Pay's reachability.
    public enum Seen: Sendable, Equatable {
        case delivered
        /// `cause` is the reason in words (no secrets: the gateway's words, as in the audit row).
        case notDelivered(orderID: Int64, cause: String)
    }

    public enum Line: Sendable, Equatable {
        case started(cause: String)
        case ended(lastedMs: Int64, ordersWaited: Int)
    }

    /// When the current outage began (unix ms), nil when calls are delivered.
    public private(set) var since: Int64?
    private var waiting: Set<Int64> = []

    public init() {}

    /// Orders that waited out the current outage so far.
    public var ordersWaiting: Int { waiting.count }

    public mutating func record(_ seen: Seen, now: Int64) -> Line? {
        switch seen {
        case .notDelivered(let orderID, let cause):
            waiting.insert(orderID)
            guard since == nil else { return nil }
            since = now
            return .started(cause: cause)
        case .delivered:
            guard let began = since else { return nil }
            let line = Line.ended(lastedMs: max(now - began, 0), ordersWaited: waiting.count)
            since = nil
            waiting = []
            return line
        }
    }
}
