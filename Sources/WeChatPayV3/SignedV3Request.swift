/// A v3 request with its `Authorization` header, ready to send. Build one per attempt: each gets
/// a fresh nonce and timestamp, passed in so that the core stays free of clocks and randomness.
///
/// `Authorization: WECHATPAY2-SHA256-RSA2048 mchid="…",nonce_str="…",signature="…",timestamp="…",serial_no="…"`
///
/// The header holds the signature, so it is never logged.
public struct SignedV3Request: Sendable {
    public static let scheme = "WECHATPAY2-SHA256-RSA2048"

    public let request: V3Request
    public let authorization: String
    public let timestamp: Int64
    public let nonce: String

    /// - Parameters:
    ///   - timestamp: unix seconds now.
    ///   - nonce: a fresh random string of letters and digits (at most 32).
    public init(_ request: V3Request, credentials: V3Credentials, timestamp: Int64, nonce: String) throws(V3Error) {
        if let order = request.order, order.mchID != credentials.mchID {
            throw V3Error(.invalidField, "the order's mchid \(order.mchID) is not the credentials' \(credentials.mchID)")
        }
        guard !nonce.isEmpty, nonce.utf8.count <= 32, nonce.utf8.allSatisfy(V3OrderReference.isAlphanumeric) else {
            throw V3Error(.invalidField, "the nonce must be 1 to 32 letters or digits")
        }
        let message = SigningMessage.request(
            method: request.method, canonicalURL: request.canonicalURL,
            timestamp: timestamp, nonce: nonce, body: request.body)
        let signature = try credentials.privateKey.sign(message)
        self.request = request
        self.timestamp = timestamp
        self.nonce = nonce
        self.authorization = Self.header(
            mchID: credentials.mchID, nonce: nonce, signature: signature,
            timestamp: timestamp, serialNo: credentials.serialNo)
    }

    static func header(mchID: String, nonce: String, signature: String, timestamp: Int64, serialNo: String) -> String {
        "\(scheme) mchid=\"\(mchID)\",nonce_str=\"\(nonce)\",signature=\"\(signature)\",timestamp=\"\(timestamp)\",serial_no=\"\(serialNo)\""
    }
}

/// The parts of an `Authorization` header, as WeChat Pay (or the fake) reads them.
public struct AuthorizationFields: Sendable, Hashable {
    public let mchID: String
    public let nonce: String
    public let signature: String
    public let timestamp: String
    public let serialNo: String

    /// Parses `WECHATPAY2-SHA256-RSA2048 k="v",…`; nil when the scheme or any of the five fields is missing.
    public init?(header: String) {
        let prefix = SignedV3Request.scheme + " "
        guard header.hasPrefix(prefix) else { return nil }
        var fields: [String: String] = [:]
        for part in header.dropFirst(prefix.count).split(separator: ",") {
            guard let equals = part.firstIndex(of: "=") else { return nil }
            let name = part[..<equals].trimmingCharacters()
            var value = Substring(part[part.index(after: equals)...].trimmingCharacters())
            guard value.count >= 2, value.first == "\"", value.last == "\"" else { return nil }
            value = value.dropFirst().dropLast()
            fields[String(name)] = String(value)
        }
        guard let mchID = fields["mchid"], let nonce = fields["nonce_str"], let signature = fields["signature"],
            let timestamp = fields["timestamp"], let serialNo = fields["serial_no"]
        else { return nil }
        self.mchID = mchID
        self.nonce = nonce
        self.signature = signature
        self.timestamp = timestamp
        self.serialNo = serialNo
    }

    /// The message the merchant signed, for a request with these fields.
    public func signingMessage(method: String, canonicalURL: String, body: [UInt8]) -> [UInt8]? {
        guard let seconds = Int64(timestamp) else { return nil }
        return SigningMessage.request(method: method, canonicalURL: canonicalURL, timestamp: seconds, nonce: nonce, body: body)
    }
}

extension Substring {
    func trimmingCharacters() -> Substring {
        var slice = self
        while let first = slice.first, first == " " { slice.removeFirst() }
        while let last = slice.last, last == " " { slice.removeLast() }
        return slice
    }
}
