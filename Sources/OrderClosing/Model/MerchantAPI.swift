/// Which WeChat Pay API serves a merchant. Stored once, in the merchant's handle
/// (`MerchantHandle.api`, set by the adapter that made it); `RoutingGateway` dispatches on it.
/// Open, not an enum: a new API declares its value beside its adapter, and the domain does not change.
public struct MerchantAPI: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: String

    public init(rawValue: String) {
        self.rawValue = rawValue
    }

    public static let v2 = MerchantAPI(rawValue: "v2")
    public static let v3 = MerchantAPI(rawValue: "v3")

    public var description: String { "API \(rawValue)" }
}
