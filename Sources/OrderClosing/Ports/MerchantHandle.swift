/// A merchant as its API's adapter knows it: the adapter's loader makes it with the merchant's
/// credentials (v2 key, v3 private key and verification keys), and the domain hands it back,
/// unopened, with every call. So a call signs with the credentials of the profile its order
/// started with, even when a reload (SIGHUP) has since replaced or re-routed the merchant; there
/// is no placeholder credential for an API the merchant does not use.
public protocol MerchantHandle: Sendable {
    var mchID: String { get }
    /// The API whose adapter serves this merchant (`RoutingGateway`'s key).
    var api: MerchantAPI { get }
    /// Why this API cannot carry `order` (its id rules), or nil when it can. Checked before a row
    /// is sent, so a row no request could carry ends `failed` at once, naming the rule.
    func refusal(of order: OrderKey) -> String?
    /// Whether `other` is this merchant with the same credentials: a reload names the merchants
    /// whose handle changed.
    func sameCredentials(as other: any MerchantHandle) -> Bool
}
