import NIOConcurrencyHelpers

/// The merchants the daemon serves now, shared by the closer and the loop, and replaced whole by
/// a reload (SIGHUP): a new merchant, a rotated key, a merchant whose key came back. Calls in
/// flight keep the profile they started with; the next claim sees the new set.
public final class MerchantDirectory: Sendable {
    public struct Snapshot: Sendable {
        /// Bumped by every `replace`, so the loop rebuilds its gate only when something changed.
        public let version: Int
        public let profiles: [String: MerchantProfile]
        /// mch_id → why its key cannot be used; paused.
        public let unavailable: [String: String]
    }

    private let box: NIOLockedValueBox<Snapshot>

    public init(profiles: [MerchantProfile], unavailable: [String: String] = [:]) {
        box = NIOLockedValueBox(Snapshot(version: 0, profiles: Self.index(profiles), unavailable: unavailable))
    }

    public var current: Snapshot { box.withLockedValue { $0 } }

    /// Installs a new set of merchants; returns what changed, for the reload's log line.
    @discardableResult
    public func replace(profiles: [MerchantProfile], unavailable: [String: String]) -> (
        added: [String], removed: [String], changed: [String]
    ) {
        let new = Self.index(profiles)
        return box.withLockedValue { snapshot in
            let added = new.keys.filter { snapshot.profiles[$0] == nil }.sorted()
            let removed = snapshot.profiles.keys.filter { new[$0] == nil }.sorted()
            let changed = new.filter { entry in snapshot.profiles[entry.key].map { $0 != entry.value } ?? false }.keys.sorted()
            snapshot = Snapshot(version: snapshot.version + 1, profiles: new, unavailable: unavailable)
            return (added, removed, changed)
        }
    }

    static func index(_ profiles: [MerchantProfile]) -> [String: MerchantProfile] {
        Dictionary(profiles.map { ($0.mchID, $0) }, uniquingKeysWith: { $1 })
    }
}
