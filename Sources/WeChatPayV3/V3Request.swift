/// An unsigned v3 call: method, canonical URL (path and query) and body.
///
/// | call  | direct merchant                                                        | service provider (partner)                                                              |
/// |-------|------------------------------------------------------------------------|-----------------------------------------------------------------------------------------|
/// | close | `POST /v3/pay/transactions/out-trade-no/{no}/close` `{"mchid":…}`       | `POST /v3/pay/partner/transactions/out-trade-no/{no}/close` `{"sp_mchid":…,"sub_mchid":…}` |
/// | certificates | `GET /v3/certificates` | the same |
/// | query | `GET /v3/pay/transactions/out-trade-no/{no}?mchid=…`                    | `GET /v3/pay/partner/transactions/out-trade-no/{no}?sp_mchid=…&sub_mchid=…`             |
///
/// Every value is checked by `V3OrderReference` to be letters, digits, `_`, `-` or `*`, so none
/// needs escaping in the path, the query or the JSON body.
public struct V3Request: Sendable, Hashable {
    public enum Call: String, Sendable, Hashable, CaseIterable {
        case close, query, certificates
    }

    public let call: Call
    /// The order a close or query names; nil for `/v3/certificates`.
    public let order: V3OrderReference?
    public let method: String
    /// The path with its `?query`: what is requested, and what the signing message names.
    public let canonicalURL: String
    /// The JSON body; empty for a GET.
    public let body: [UInt8]

    public static func close(_ order: V3OrderReference) -> V3Request {
        let body: String
        let path: String
        if let sub = order.subMchID {
            path = "/v3/pay/partner/transactions/out-trade-no/\(order.outTradeNo)/close"
            body = "{\"sp_mchid\":\"\(order.mchID)\",\"sub_mchid\":\"\(sub)\"}"
        } else {
            path = "/v3/pay/transactions/out-trade-no/\(order.outTradeNo)/close"
            body = "{\"mchid\":\"\(order.mchID)\"}"
        }
        return V3Request(call: .close, order: order, method: "POST", canonicalURL: path, body: Array(body.utf8))
    }

    /// `GET /v3/certificates`: the platform certificates, for a merchant that verifies with them.
    public init(certificatesFor mchID: String) {
        self.init(call: .certificates, order: nil, method: "GET", canonicalURL: CertificateList.path, body: [])
    }

    init(call: Call, order: V3OrderReference?, method: String, canonicalURL: String, body: [UInt8]) {
        self.call = call
        self.order = order
        self.method = method
        self.canonicalURL = canonicalURL
        self.body = body
    }

    public static func query(_ order: V3OrderReference) -> V3Request {
        let url =
            if let sub = order.subMchID {
                "/v3/pay/partner/transactions/out-trade-no/\(order.outTradeNo)?sp_mchid=\(order.mchID)&sub_mchid=\(sub)"
            } else {
                "/v3/pay/transactions/out-trade-no/\(order.outTradeNo)?mchid=\(order.mchID)"
            }
        return V3Request(call: .query, order: order, method: "GET", canonicalURL: url, body: [])
    }
}
