import Foundation
import WeChatPayV2
import WeChatPayV3

/// One v3 request worked through WeChat Pay's rules, in order: route, Authorization, merchant,
/// request signature, parameters, faults, then the order's state. Runs under the fake's lock and
/// shares the v2 side's orders, scripts and call record.
///
/// | situation                                     | answer                                      |
/// |-----------------------------------------------|---------------------------------------------|
/// | unknown path                                  | 404, unsigned                               |
/// | no or unreadable Authorization, bad signature, wrong serial | 401 SIGN_ERROR, unsigned      |
/// | unknown mchid                                 | 400 MCH_NOT_EXISTS                          |
/// | body/query ids not the signer's, bad out_trade_no | 400 PARAM_ERROR                         |
/// | partner API by an ordinary merchant, unauthorised sub-merchant | 403 NO_AUTH                |
/// | close of an unpaid, closed or unknown order   | 204 (WeChat does not tell them apart)       |
/// | close of a paid order                         | 403 TRADE_ERROR                             |
/// | query of a known order / an unknown one       | 200 with trade_state / 404 ORDER_NOT_EXIST  |
/// | `/v3/certificates`                            | 200, encrypted with the merchant's APIv3 key |
struct V3Exchange {
    enum Route { case close(outTradeNo: String, partner: Bool), query(outTradeNo: String, partner: Bool), certificates }

    let unknownOrders: UnknownOrderPolicy
    let receivedAt: Double
    let uri: String
    let identity: FakeV3Identity
    var mchID: String?
    var outTradeNo: String?
    var nonce: String?
    var signature: String?
    var signatureValid = false
    var orderAge: Double?
    var answerLabel = ""
    var acted = false
    var slow = false

    init(unknownOrders: UnknownOrderPolicy, receivedAt: Double, uri: String, identity: FakeV3Identity) {
        self.unknownOrders = unknownOrders
        self.receivedAt = receivedAt
        self.uri = uri
        self.identity = identity
    }

    func record() -> FakeCall {
        let path = String(uri.split(separator: "?", maxSplits: 1).first ?? "")
        return FakeCall(
            receivedAt: receivedAt, path: path, mchID: mchID, outTradeNo: outTradeNo, nonce: nonce, sign: signature,
            signatureValid: signatureValid, orderAge: orderAge, answer: answerLabel, acted: acted)
    }

    static func route(method: String, uri: String) -> (Route, query: [String: String])? {
        let parts = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        let path = String(parts[0])
        var query: [String: String] = [:]
        if parts.count == 2 {
            for pair in parts[1].split(separator: "&") {
                let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                query[String(kv[0])] = kv.count == 2 ? String(kv[1]) : ""
            }
        }
        if path == CertificateList.path, method == "GET" { return (.certificates, query) }
        for (prefix, partner) in [
            ("/v3/pay/transactions/out-trade-no/", false), ("/v3/pay/partner/transactions/out-trade-no/", true),
        ] {
            guard path.hasPrefix(prefix) else { continue }
            let rest = path.dropFirst(prefix.count)
            if method == "POST", rest.hasSuffix("/close") {
                let number = rest.dropLast("/close".count)
                if !number.isEmpty, !number.contains("/") { return (.close(outTradeNo: String(number), partner: partner), query) }
            } else if method == "GET", !rest.isEmpty, !rest.contains("/") {
                return (.query(outTradeNo: String(rest), partner: partner), query)
            }
        }
        return nil
    }

    mutating func run(
        method: String, authorization: String?, body: [UInt8], merchants: [String: FakeV3Merchant],
        state: inout FakeWeChatPay.State
    ) -> FakeWeChatPay.Answer.Action {
        var signer = V3AnswerSigner(
            identity: identity, serial: identity.publicKeyID, timestamp: Int64(receivedAt),
            nonce: Self.nonce(32, &state.nonces))
        guard let routed = Self.route(method: method, uri: uri) else {
            answerLabel = "HTTP404"
            return .respondV3(status: 404, headers: [:], body: Array("Not Found".utf8))
        }
        let (route, query) = routed
        guard let authorization, let fields = AuthorizationFields(header: authorization) else {
            return unsigned401("Authorization 头缺失或格式错误")
        }
        mchID = fields.mchID
        nonce = fields.nonce
        signature = fields.signature
        guard let merchant = merchants[fields.mchID] else {
            answerLabel = "MCH_NOT_EXISTS"
            return signer.error(400, "MCH_NOT_EXISTS", "商户号不存在")
        }
        if merchant.verification == .platformCertificate { signer.serial = identity.certificateSerial }
        if let message = fields.signingMessage(method: method, canonicalURL: uri, body: body),
            fields.serialNo == merchant.serialNo
        {
            signatureValid = merchant.publicKey.isValidSignature(fields.signature, for: message)
        }
        guard signatureValid else { return unsigned401("签名错误") }

        let number: String
        let partner: Bool
        switch route {
        case .certificates:
            return certificates(merchant, signer: signer, nonces: &state.nonces)
        case .close(let no, let isPartner), .query(let no, let isPartner):
            number = no
            partner = isPartner
        }
        outTradeNo = number
        let ids: [String: String]
        if case .close = route {
            guard let decoded = try? JSONDecoder().decode([String: String].self, from: Data(body)) else {
                answerLabel = "PARAM_ERROR"
                return signer.error(400, "PARAM_ERROR", "请求体不是 JSON")
            }
            ids = decoded
        } else {
            ids = query
        }
        let subMchID: String?
        if partner {
            guard merchant.isServiceProvider else {
                answerLabel = "NO_AUTH"
                return signer.error(403, "NO_AUTH", "普通商户无服务商接口权限")
            }
            guard ids["sp_mchid"] == merchant.mchID, let sub = ids["sub_mchid"], !sub.isEmpty else {
                answerLabel = "PARAM_ERROR"
                return signer.error(400, "PARAM_ERROR", "sp_mchid 与签名商户不符或缺少 sub_mchid")
            }
            subMchID = sub
        } else {
            guard ids["mchid"] == merchant.mchID else {
                answerLabel = "PARAM_ERROR"
                return signer.error(400, "PARAM_ERROR", "mchid 与签名商户不符")
            }
            subMchID = nil
        }
        if let violation = V3OrderReference.outTradeNoViolation(number) {
            answerLabel = "PARAM_ERROR"
            return signer.error(400, "PARAM_ERROR", violation)
        }
        if let subMchID, !merchant.subMerchants.isEmpty, !merchant.subMerchants.contains(subMchID) {
            answerLabel = "NO_AUTH"
            return signer.error(403, "NO_AUTH", "特约子商户未授权服务商的产品权限")
        }
        let key = FakeWeChatPay.OrderKey(mchID: merchant.mchID, outTradeNo: number)
        let isClose: Bool = if case .close = route { true } else { false }
        if isClose, let createdAt = state.orders[key]?.createdAt {
            orderAge = receivedAt - createdAt
            if receivedAt - createdAt < FakeWeChatPay.minimumCloseAge {
                state.violations.append(
                    "closed \(number) of \(merchant.mchID) at age \(receivedAt - createdAt)s (< \(Int(FakeWeChatPay.minimumCloseAge))s)"
                )
            }
        }
        let echo = Echo(merchant: merchant, subMchID: subMchID, outTradeNo: number)
        var exchange = V2Exchange(unknownOrders: unknownOrders, receivedAt: receivedAt, path: "")
        if let fault = exchange.nextFault(for: key, state: &state) {
            return apply(fault, isClose: isClose, key: key, echo: echo, signer: signer, state: &state)
        }
        return realRules(isClose: isClose, key: key, echo: echo, signer: signer, state: &state)
    }

    /// The ids a query answer echoes.
    struct Echo {
        let merchant: FakeV3Merchant
        let subMchID: String?
        let outTradeNo: String
    }

    /// Renders `FaultEffect`'s table in v3's JSON and headers: the decision is shared with v2.
    mutating func apply(
        _ fault: FakeFault, isClose: Bool, key: FakeWeChatPay.OrderKey, echo: Echo, signer: V3AnswerSigner,
        state: inout FakeWeChatPay.State
    ) -> FakeWeChatPay.Answer.Action {
        var signer = signer
        switch FaultEffect(fault) {
        case .resets:
            answerLabel = "RESET"
            return .reset
        case .acts(let spoil):
            let label: String
            switch spoil {
            case .late:
                slow = true
                label = "SLOW"
            case .badSignature:
                signer.corrupt = true
                label = "BADSIGN"
            case .staleTimestamp:
                signer.timestamp -= 600
                label = "STALE"
            case .unknownSerial:
                signer.serial = "PUB_KEY_ID_0000000000000000000000000000"
                label = "UNKNOWNSERIAL"
            }
            let action = realRules(isClose: isClose, key: key, echo: echo, signer: signer, state: &state)
            answerLabel = label + ":" + answerLabel
            return action
        case .claims(let claim):
            switch claim {
            case .systemError:
                answerLabel = "SYSTEM_ERROR"
                return signer.error(500, "SYSTEM_ERROR", "系统异常，请稍后重试")
            case .httpError(let status):
                answerLabel = "HTTP\(status)"
                return .respondV3(status: status, headers: [:], body: Array("Service Unavailable".utf8))
            case .malformed:
                answerLabel = "MALFORMED"
                return .respondV3(status: 200, headers: [:], body: Array("{\"trade_state\":\"SUC".utf8))
            case .forgedPaid:
                signer.corrupt = true
                answerLabel = "FORGED:TRADE_ERROR"
                return signer.error(403, "TRADE_ERROR", "订单已支付")
            case .forgedSuccess:
                signer.corrupt = true
                answerLabel = "FORGED:SUCCESS"
                return isClose
                    ? signer.noContent()
                    : signer.json(200, Self.queryBody(echo, state: "SUCCESS", transactionID: "4200000000000000000000000000"))
            case .orderClosed:
                answerLabel = "ORDER_CLOSED"
                return signer.error(400, "ORDER_CLOSED", "订单已关闭")
            case .orderNotExist:
                answerLabel = "ORDER_NOT_EXIST"
                return signer.error(404, "ORDER_NOT_EXIST", "订单不存在")
            case .frequencyLimited:
                answerLabel = "FREQUENCY_LIMITED"
                return signer.error(429, "FREQUENCY_LIMITED", "频率超限")
            case .paramError:
                answerLabel = "PARAM_ERROR"
                return signer.error(400, "PARAM_ERROR", V2Exchange.parameterRefusal)
            }
        }
    }

    mutating func realRules(
        isClose: Bool, key: FakeWeChatPay.OrderKey, echo: Echo, signer: V3AnswerSigner,
        state: inout FakeWeChatPay.State
    ) -> FakeWeChatPay.Answer.Action {
        var order = state.orders[key]
        if order == nil, unknownOrders == .notPay {
            order = FakeWeChatPay.Order(state: .notPay, createdAt: nil, transactionID: nil)
            state.orders[key] = order
        }
        if !isClose {
            guard let order else {
                answerLabel = "ORDER_NOT_EXIST"
                return signer.error(404, "ORDER_NOT_EXIST", "订单不存在")
            }
            answerLabel = "TRADE_STATE:" + order.state.rawValue
            return signer.json(200, Self.queryBody(echo, state: order.state.rawValue, transactionID: order.transactionID))
        }
        switch order?.state {
        case .paid:
            answerLabel = "TRADE_ERROR"
            return signer.error(403, "TRADE_ERROR", "订单已支付")
        case .notPay:
            state.orders[key]?.state = .closed
            acted = true
            answerLabel = "NO_CONTENT"
            return signer.noContent()
        case .closed:
            answerLabel = "NO_CONTENT:CLOSED"
            return signer.noContent()
        case nil:
            answerLabel = "NO_CONTENT:UNKNOWN"
            return signer.noContent()
        }
    }

    static func queryBody(_ echo: Echo, state: String, transactionID: String?) -> [String: String] {
        var body = ["out_trade_no": echo.outTradeNo, "trade_state": state, "trade_state_desc": state]
        if let sub = echo.subMchID {
            body["sp_mchid"] = echo.merchant.mchID
            body["sub_mchid"] = sub
        } else {
            body["mchid"] = echo.merchant.mchID
        }
        body["transaction_id"] = transactionID
        return body
    }

    mutating func certificates(
        _ merchant: FakeV3Merchant, signer: V3AnswerSigner,
        nonces: inout SplitMix64
    ) -> FakeWeChatPay.Answer.Action {
        guard let apiV3Key = merchant.apiV3Key else {
            answerLabel = "PARAM_ERROR"
            return signer.error(400, "PARAM_ERROR", "商户未设置 APIv3 密钥")
        }
        var signer = signer
        // WeChat Pay signs this answer with a platform certificate.
        signer.serial = identity.certificateSerial
        answerLabel = "CERTIFICATES"
        let entry = (
            serialNo: identity.certificateSerial, pem: identity.certificatePEM, effective: "2026-01-01T00:00:00+08:00",
            expire: "2027-01-01T00:00:00+08:00", nonce: Self.nonce(12, &nonces)
        )
        // Sealing with a 12-character nonce cannot fail.
        let body = try! CertificateList.encode([entry], key: apiV3Key)
        return signer.signed(200, body: body)
    }

    mutating func unsigned401(_ message: String) -> FakeWeChatPay.Answer.Action {
        answerLabel = "SIGN_ERROR"
        return .respondV3(status: 401, headers: [:], body: Array("{\"code\":\"SIGN_ERROR\",\"message\":\"\(message)\"}".utf8))
    }

    static func nonce(_ count: Int, _ generator: inout SplitMix64) -> String {
        let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")
        return String((0..<count).map { _ in alphabet[Int(generator.next() % UInt64(alphabet.count))] })
    }
}
