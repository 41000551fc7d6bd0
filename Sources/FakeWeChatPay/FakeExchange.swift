import WeChatPayV2

/// One request worked through WeChat Pay's rules, in order: parse, merchant, parameters, signature,
/// faults, then the order's state. Runs under the fake's lock.
struct Exchange {
    let fake: FakeWeChatPay
    let receivedAt: Double
    let path: String
    var fields: [String: String] = [:]
    var signatureValid = false
    var orderAge: Double?
    var answerLabel = ""
    var acted = false
    var slow = false

    init(fake: FakeWeChatPay, receivedAt: Double, path: String) {
        self.fake = fake
        self.receivedAt = receivedAt
        self.path = path
    }

    func record(answer: String) -> FakeCall {
        FakeCall(receivedAt: receivedAt, path: path, mchID: fields["mch_id"], outTradeNo: fields["out_trade_no"],
                 nonce: fields["nonce_str"], sign: fields["sign"], signatureValid: signatureValid, orderAge: orderAge, answer: answer, acted: acted)
    }

    mutating func run(method: String, body: [UInt8], state: inout FakeWeChatPay.State) -> FakeWeChatPay.Answer.Action {
        guard let operation = Operation(rawValue: path) else { return notFound() }
        guard method == "POST" else { return communicationFailure("REQUIRE_POST_METHOD") }
        guard let decoded = try? StrictXMLDecoder.decode(body) else { return communicationFailure("XML格式错误") }
        fields = decoded
        // The signature is checked as soon as it can be, before the other parameters.
        for required in ["mch_id", "sign"] where (fields[required] ?? "").isEmpty {
            return communicationFailure("缺少参数\(required)")
        }
        guard let merchant = state.merchants[fields["mch_id"]!] else { return communicationFailure("mch_id参数错误") }
        guard let signType = SignType(rawValue: fields["sign_type"] ?? "MD5") else { return communicationFailure("sign_type参数错误") }
        signatureValid = Signer.isValid(sign: fields["sign"]!, for: fields, type: signType, key: merchant.key)
        guard signatureValid else { return communicationFailure("签名错误，请检查后再试") }
        for required in ["appid", "out_trade_no", "nonce_str"] where (fields[required] ?? "").isEmpty {
            return communicationFailure("缺少参数\(required)")
        }
        if fields["sub_mch_id"] != nil, !merchant.isServiceProvider { return communicationFailure("普通商户不允许传sub_mch_id") }
        guard merchant.appIDs.contains(fields["appid"]!) else { return communicationFailure("appid和mch_id不匹配") }

        let key = FakeWeChatPay.OrderKey(mchID: merchant.mchID, outTradeNo: fields["out_trade_no"]!)
        let signer = AnswerSigner(merchant: merchant, signType: signType, request: fields)
        if operation == .closeOrder, let createdAt = state.orders[key]?.createdAt {
            orderAge = receivedAt - createdAt
            if receivedAt - createdAt < FakeWeChatPay.minimumCloseAge {
                state.violations.append("closed \(key.outTradeNo) of \(key.mchID) at age \(receivedAt - createdAt)s (< \(Int(FakeWeChatPay.minimumCloseAge))s)")
            }
        }
        if let fault = nextFault(for: key, state: &state) {
            return apply(fault, operation: operation, key: key, signer: signer, state: &state)
        }
        return realRules(operation, key: key, signer: signer, state: &state)
    }

    mutating func nextFault(for key: FakeWeChatPay.OrderKey, state: inout FakeWeChatPay.State) -> FakeFault? {
        if var queued = state.scripts[key], !queued.isEmpty {
            let fault = queued.removeFirst()
            state.scripts[key] = queued.isEmpty ? nil : queued
            return fault
        }
        guard state.faultRate > 0, !state.rateFaults.isEmpty,
              Double.random(in: 0..<1, using: &state.random) < state.faultRate else { return nil }
        return state.rateFaults.randomElement(using: &state.random)
    }

    mutating func apply(_ fault: FakeFault, operation: Operation, key: FakeWeChatPay.OrderKey, signer: AnswerSigner,
                        state: inout FakeWeChatPay.State) -> FakeWeChatPay.Answer.Action {
        switch fault {
        case .systemError:
            answerLabel = "SYSTEMERROR"
            return .respond(status: 200, body: signer.failure("SYSTEMERROR", "系统错误"))
        case .http500, .http503:
            answerLabel = fault == .http500 ? "HTTP500" : "HTTP503"
            return .respond(status: fault == .http500 ? 500 : 503, body: Array("Service Unavailable".utf8))
        case .slowAnswer:
            slow = true
            let action = realRules(operation, key: key, signer: signer, state: &state)
            answerLabel = "SLOW:" + answerLabel
            return action
        case .connectionReset:
            answerLabel = "RESET"
            return .reset
        case .malformedBody:
            answerLabel = "MALFORMED"
            return .respond(status: 200, body: Array("<xml><return_code><![CDATA[SUCCESS]]></return_code><result_co".utf8))
        case .badResponseSignature:
            let action = realRules(operation, key: key, signer: signer.tampered(), state: &state)
            answerLabel = "BADSIGN:" + answerLabel
            return action
        case .forgedOrderPaid:
            answerLabel = "FORGED:ORDERPAID"
            return .respond(status: 200, body: signer.tampered().failure("ORDERPAID", "订单已支付"))
        case .forgedSuccess:
            answerLabel = "FORGED:SUCCESS"
            return .respond(status: 200, body: signer.tampered().success(["trade_state": "SUCCESS", "transaction_id": "4200000000000000000000000000"]))
        case .orderClosed:
            answerLabel = "ORDERCLOSED"
            return .respond(status: 200, body: signer.failure("ORDERCLOSED", "订单已关闭"))
        case .orderNotExist:
            answerLabel = "ORDERNOTEXIST"
            return .respond(status: 200, body: signer.failure("ORDERNOTEXIST", "订单不存在"))
        }
    }

    mutating func realRules(_ operation: Operation, key: FakeWeChatPay.OrderKey, signer: AnswerSigner,
                            state: inout FakeWeChatPay.State) -> FakeWeChatPay.Answer.Action {
        if state.orders[key] == nil, fake.unknownOrders == .notPay {
            state.orders[key] = FakeWeChatPay.Order(state: .notPay, createdAt: nil, transactionID: nil)
        }
        guard var order = state.orders[key] else {
            answerLabel = "ORDERNOTEXIST"
            return .respond(status: 200, body: signer.failure("ORDERNOTEXIST", "订单不存在"))
        }
        switch operation {
        case .orderQuery:
            answerLabel = "TRADE_STATE:" + order.state.rawValue
            var extra = ["trade_state": order.state.rawValue, "out_trade_no": key.outTradeNo]
            if let transactionID = order.transactionID { extra["transaction_id"] = transactionID }
            return .respond(status: 200, body: signer.success(extra))
        case .closeOrder:
            switch order.state {
            case .paid:
                answerLabel = "ORDERPAID"
                return .respond(status: 200, body: signer.failure("ORDERPAID", "订单已支付"))
            case .closed:
                answerLabel = "ORDERCLOSED"
                return .respond(status: 200, body: signer.failure("ORDERCLOSED", "订单已关闭"))
            case .notPay:
                order.state = .closed
                state.orders[key] = order
                acted = true
                answerLabel = "SUCCESS"
                return .respond(status: 200, body: signer.success([:]))
            }
        }
    }

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

/// Builds answers signed the way WeChat signs them: with the merchant's key and the request's sign type.
struct AnswerSigner {
    let merchant: FakeMerchant
    let signType: SignType
    let request: [String: String]
    var corrupt = false

    func tampered() -> AnswerSigner {
        var copy = self
        copy.corrupt = true
        return copy
    }

    func success(_ extra: [String: String]) -> [UInt8] {
        signed(["result_code": "SUCCESS", "result_msg": "OK"].merging(extra) { $1 })
    }

    func failure(_ errCode: String, _ description: String) -> [UInt8] {
        signed(["result_code": "FAIL", "err_code": errCode, "err_code_des": description])
    }

    func signed(_ business: [String: String]) -> [UInt8] {
        var fields = business
        fields["return_code"] = "SUCCESS"
        fields["return_msg"] = "OK"
        fields["appid"] = request["appid"]
        fields["mch_id"] = request["mch_id"]
        if let subMchID = request["sub_mch_id"] { fields["sub_mch_id"] = subMchID }
        fields["nonce_str"] = Nonce.make()
        var sign = Signer.sign(fields, type: signType, key: merchant.key)
        if corrupt {
            // Flip the last hex digit: a near miss, the hardest kind to notice.
            let last = sign.removeLast()
            sign.append(last == "0" ? "1" : "0")
        }
        fields["sign"] = sign
        return (try? XMLBodyEncoder.encode(fields)) ?? []
    }
}
