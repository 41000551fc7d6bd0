/// What signs a v3 merchant's requests: its mchid (the service provider's for partner orders),
/// its API certificate's serial number, and the private key of that certificate.
public struct V3Credentials: Sendable {
    public let mchID: String
    /// The merchant API certificate's serial number, in hex (as the merchant platform shows it).
    public let serialNo: String
    public let privateKey: MerchantPrivateKey

    public init(mchID: String, serialNo: String, privateKey: MerchantPrivateKey) throws(V3Error) {
        try V3OrderReference.checkMerchantID("mchid", mchID)
        guard !serialNo.isEmpty, serialNo.utf8.count <= 64, serialNo.utf8.allSatisfy(Self.isHexDigit) else {
            throw V3Error(.invalidField, "the merchant certificate serial \"\(serialNo)\" must be 1 to 64 hex digits")
        }
        self.mchID = mchID
        self.serialNo = serialNo
        self.privateKey = privateKey
    }

    static func isHexDigit(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x46) || (byte >= 0x61 && byte <= 0x66)
    }
}
