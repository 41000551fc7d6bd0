import WeChatPayV2

/// One request worked through WeChat Pay's rules, in order: parse, merchant, parameters, signature,
/// faults, then the order's state. Runs under the fake's lock.
struct V2Exchange {
    let unknownOrders: UnknownOrderPolicy
    let receivedAt: Double
    let path: String
    var fields: [String: String] = [:]
    var signatureValid = false
    var orderAge: Double?
    var answerLabel = ""
    var acted = false
    var slow = false

    init(unknownOrders: UnknownOrderPolicy, receivedAt: Double, path: String) {
        self.unknownOrders = unknownOrders
        self.receivedAt = receivedAt
        self.path = path
    }

    func record(answer: String) -> FakeCall {
        FakeCall(
            receivedAt: receivedAt, path: path, mchID: fields["mch_id"], outTradeNo: fields["out_trade_no"],
            nonce: fields["nonce_str"], sign: fields["sign"], signatureValid: signatureValid, orderAge: orderAge, answer: answer,
            acted: acted)
    }

    mutating func run(method: String, body: [UInt8], state: inout FakeWeChatPay.State) -> FakeWeChatPay.Answer.Action {
        guard let operation = Operation(rawValue: path) else { return notFound() }
        guard method == "POST" else { return communicationFailure("REQUIRE_POST_METHOD") }
        guard let decoded = try? StrictXMLDecoder.decode(body) else { return communicationFailure("XML格式错误") }
        fields = decoded
        // The signature is checked as soon as it can be, before the other parameters.
        guard let mchID = present("mch_id") else { return communicationFailure("缺少参数mch_id") }
        guard let sign = present("sign") else { return communicationFailure("缺少参数sign") }
        guard let merchant = state.merchants[mchID] else { return communicationFailure("mch_id参数错误") }
        guard let signType = SignType(rawValue: fields["sign_type"] ?? "MD5") else {
            return communicationFailure("sign_type参数错误")
        }
        signatureValid = Signer.isValid(sign: sign, for: fields, type: signType, key: merchant.key)
        guard signatureValid else { return communicationFailure("签名错误，请检查后再试") }
        guard let appID = present("appid") else { return communicationFailure("缺少参数appid") }
        guard let outTradeNo = present("out_trade_no") else { return communicationFailure("缺少参数out_trade_no") }
        guard present("nonce_str") != nil else { return communicationFailure("缺少参数nonce_str") }
        let subMchID = fields["sub_mch_id"]
        if subMchID != nil, !merchant.isServiceProvider { return communicationFailure("普通商户不允许传sub_mch_id") }
        guard merchant.appIDs.contains(appID) else { return communicationFailure("appid和mch_id不匹配") }

        let key = FakeWeChatPay.OrderKey(mchID: merchant.mchID, outTradeNo: outTradeNo)
        // Looked up once; the index stays valid because only `realRules` changes which orders exist.
        let known = state.orders.index(forKey: key)
        let signer = V2AnswerSigner(
            merchant: merchant, signType: signType, appID: appID, subMchID: subMchID,
            nonce: Nonce.make(using: &state.nonces))
        if operation == .closeOrder, let known, let createdAt = state.orders.values[known].createdAt {
            orderAge = receivedAt - createdAt
            if receivedAt - createdAt < FakeWeChatPay.minimumCloseAge {
                state.violations.append(
                    "closed \(key.outTradeNo) of \(key.mchID) at age \(receivedAt - createdAt)s (< \(Int(FakeWeChatPay.minimumCloseAge))s)"
                )
            }
        }
        if let subMchID, !merchant.subMerchants.isEmpty, !merchant.subMerchants.contains(subMchID) {
            answerLabel = "NOAUTH"
            return .respond(status: 200, body: signer.failure("NOAUTH", "特约子商户商户号未授权服务商的产品权限"))
        }
        if let fault = nextFault(for: key, state: &state) {
            return apply(fault, operation: operation, key: key, known: known, signer: signer, state: &state)
        }
        return realRules(operation, key: key, known: known, signer: signer, state: &state)
    }

    /// A field's value when the request sent it non-empty.
    func present(_ name: String) -> String? {
        guard let value = fields[name], !value.isEmpty else { return nil }
        return value
    }

    mutating func nextFault(for key: FakeWeChatPay.OrderKey, state: inout FakeWeChatPay.State) -> FakeFault? {
        // The frequency limit comes first: WeChat refuses the excess before looking at the order.
        if state.rateLimit != nil, !state.rateLimit!.admit(at: receivedAt) { return .frequencyLimited }
        if !state.scripts.isEmpty, var queued = state.scripts[key], !queued.isEmpty {
            let fault = queued.removeFirst()
            state.scripts[key] = queued.isEmpty ? nil : queued
            return fault
        }
        guard state.faultRate > 0, !state.rateFaults.isEmpty,
            Double.random(in: 0..<1, using: &state.random) < state.faultRate
        else { return nil }
        return state.rateFaults.randomElement(using: &state.random)
    }

    /// Renders `FaultEffect`'s table in v2's XML: the decision is shared with v3.
    mutating func apply(
        _ fault: FakeFault, operation: Operation, key: FakeWeChatPay.OrderKey,
        known: Dictionary<FakeWeChatPay.OrderKey, FakeWeChatPay.Order>.Index?, signer: V2AnswerSigner,
        state: inout FakeWeChatPay.State
    ) -> FakeWeChatPay.Answer.Action {
        switch FaultEffect(fault) {
        case .resets:
            answerLabel = "RESET"
            return .reset
        case .acts(let spoil):
            // v2 answers carry no timestamp or serial: every spoiled answer is a bad signature.
            slow = spoil == .late
            let action = realRules(
                operation, key: key, known: known, signer: spoil == .late ? signer : signer.tampered(), state: &state)
            answerLabel = (spoil == .late ? "SLOW:" : "BADSIGN:") + answerLabel
            return action
        case .claims(let claim):
            switch claim {
            case .systemError:
                answerLabel = "SYSTEMERROR"
                return .respond(status: 200, body: signer.failure("SYSTEMERROR", "系统错误"))
            case .httpError(let status):
                answerLabel = "HTTP\(status)"
                return .respond(status: status, body: Array("Service Unavailable".utf8))
            case .malformed:
                answerLabel = "MALFORMED"
                return .respond(status: 200, body: Array("<xml><return_code><![CDATA[SUCCESS]]></return_code><result_co".utf8))
            case .forgedPaid:
                answerLabel = "FORGED:ORDERPAID"
                return .respond(status: 200, body: signer.tampered().failure("ORDERPAID", "订单已支付"))
            case .forgedSuccess:
                answerLabel = "FORGED:SUCCESS"
                return .respond(
                    status: 200,
                    body: signer.tampered().success(tradeState: "SUCCESS", transactionID: "4200000000000000000000000000"))
            case .orderClosed:
                answerLabel = "ORDERCLOSED"
                return .respond(status: 200, body: signer.failure("ORDERCLOSED", "订单已关闭"))
            case .orderNotExist:
                answerLabel = "ORDERNOTEXIST"
                return .respond(status: 200, body: signer.failure("ORDERNOTEXIST", "订单不存在"))
            case .frequencyLimited:
                answerLabel = "FREQUENCY_LIMITED"
                return .respond(status: 200, body: signer.failure("FREQUENCY_LIMITED", "频率限制"))
            case .paramError:
                return communicationFailure(Self.parameterRefusal)
            }
        }
    }

    mutating func realRules(
        _ operation: Operation, key: FakeWeChatPay.OrderKey,
        known: Dictionary<FakeWeChatPay.OrderKey, FakeWeChatPay.Order>.Index?, signer: V2AnswerSigner,
        state: inout FakeWeChatPay.State
    ) -> FakeWeChatPay.Answer.Action {
        let order: FakeWeChatPay.Order
        if let known {
            order = state.orders.values[known]
        } else if unknownOrders == .notPay {
            // Stored below, once its state after this call is known (one insertion, no second lookup).
            order = FakeWeChatPay.Order(state: .notPay, createdAt: nil, transactionID: nil)
        } else {
            answerLabel = "ORDERNOTEXIST"
            return .respond(status: 200, body: signer.failure("ORDERNOTEXIST", "订单不存在"))
        }
        switch operation {
        case .orderQuery:
            if known == nil { state.orders[key] = order }
            answerLabel = "TRADE_STATE:" + order.state.rawValue
            return .respond(
                status: 200,
                body: signer.success(
                    tradeState: order.state.rawValue, outTradeNo: key.outTradeNo,
                    transactionID: order.transactionID))
        case .closeOrder:
            switch order.state {
            case .paid:
                answerLabel = "ORDERPAID"
                return .respond(status: 200, body: signer.failure("ORDERPAID", "订单已支付"))
            case .closed:
                answerLabel = "ORDERCLOSED"
                return .respond(status: 200, body: signer.failure("ORDERCLOSED", "订单已关闭"))
            case .notPay:
                if let known {
                    state.orders.values[known].state = .closed
                } else {
                    state.orders[key] = FakeWeChatPay.Order(state: .closed, createdAt: nil, transactionID: nil)
                }
                acted = true
                answerLabel = "SUCCESS"
                return .respond(status: 200, body: signer.success())
            }
        }
    }

    /// What `.paramError` answers: a return_code FAIL about a parameter, as WeChat gives a bad row.
    static let parameterRefusal = "参数格式校验错误"

    mutating func communicationFailure(_ message: String) -> FakeWeChatPay.Answer.Action {
        answerLabel = "FAIL:" + message
        let body = (try? XMLBodyEncoder.encode(["return_code": "FAIL", "return_msg": message])) ?? []
        return .respond(status: 200, body: body)
    }

    mutating func notFound() -> FakeWeChatPay.Answer.Action {
        answerLabel = "HTTP404"
        return .respond(status: 404, body: Array("Not Found".utf8))
    }
}
