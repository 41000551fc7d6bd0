import Testing

@testable import WeChatPayV2

@Suite struct SignerTests {
    static let officialKey = try! APIKey("192006250b4c09247ec02edce69f6a2d")
    static let officialFields = [
        "appid": "wxd930ea5d5a258f4f", "mch_id": "10000100", "device_info": "1000",
        "body": "test", "nonce_str": "ibuaiVcKdpRxkhJA",
    ]

    @Test func officialMD5Vector() {
        #expect(Signer.sign(Self.officialFields, type: .md5, key: Self.officialKey) == "9A0A8659F005D6984697E2CA0A9CF3B7")
    }

    @Test func officialHMACVector() {
        #expect(
            Signer.sign(Self.officialFields, type: .hmacSHA256, key: Self.officialKey)
                == "6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6")
    }

    @Test func wechatpyVectors() {
        let fields = ["test1": "test1", "test2": "test2"]
        #expect(Signer.sign(fields, type: .md5, key: Self.officialKey) == "1E3A8D73B5A4AEE787C0F68B5DAB8520")
        #expect(
            Signer.sign(fields, type: .hmacSHA256, key: Self.officialKey)
                == "EDAC6D70D2FDF5A2382F8204FC96A1918017E46ACC5297F565ED1A7610ACF659")
    }

    @Test func signAndEmptyFieldsAreNotSigned() {
        var fields = Self.officialFields
        fields["sign"] = "WHATEVER"
        fields["sub_mch_id"] = ""
        #expect(Signer.sign(fields, type: .md5, key: Self.officialKey) == "9A0A8659F005D6984697E2CA0A9CF3B7")
    }

    @Test func signTypeIsSigned() {
        var fields = Self.officialFields
        fields["sign_type"] = "MD5"
        #expect(Signer.sign(fields, type: .md5, key: Self.officialKey) != "9A0A8659F005D6984697E2CA0A9CF3B7")
    }

    @Test func validationAcceptsOnlyTheExactSign() {
        #expect(
            Signer.isValid(sign: "9A0A8659F005D6984697E2CA0A9CF3B7", for: Self.officialFields, type: .md5, key: Self.officialKey))
        #expect(
            !Signer.isValid(sign: "9a0a8659f005d6984697e2ca0a9cf3b7", for: Self.officialFields, type: .md5, key: Self.officialKey)
        )
        #expect(
            !Signer.isValid(sign: "9A0A8659F005D6984697E2CA0A9CF3B8", for: Self.officialFields, type: .md5, key: Self.officialKey)
        )
        #expect(!Signer.isValid(sign: "", for: Self.officialFields, type: .md5, key: Self.officialKey))
    }

    @Test func keyNeverPrints() throws {
        let key = try APIKey("192006250b4c09247ec02edce69f6a2d")
        #expect("\(key)" == "<redacted>")
        #expect(!String(reflecting: key).contains("1920"))
        #expect(throws: ProtocolError.self) { try APIKey(" padded") }
        #expect(try APIKey(fileContents: "abc\n") == APIKey("abc"))
    }

    @Test func noncesAreFreshAlphanumeric() {
        let first = Nonce.make()
        let second = Nonce.make()
        #expect(first.count == 32)
        #expect(first != second)
        #expect(first.utf8.allSatisfy { Nonce.alphabet.contains($0) })
    }
}
