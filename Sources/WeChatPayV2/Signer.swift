import Crypto

/// v2 signing: every non-empty field except `sign`, sorted by name in byte order, joined as
/// `k=v&…`, then `&key=<API key>`; MD5 or HMAC-SHA256 (keyed with the API key) in upper-case hex.
///
/// The string-to-sign ends with the key, so it never leaves this type.
public enum Signer {
    /// The upper-case hex signature of `fields` (any `sign` field is ignored).
    public static func sign(_ fields: [String: String], type: SignType, key: APIKey) -> String {
        let message = stringToSign(fields, key: key)
        switch type {
        case .md5:
            return hexUpper(Insecure.MD5.hash(data: message))
        case .hmacSHA256:
            let code = HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: key.bytes))
            return hexUpper(code)
        }
    }

    /// Whether `sign` matches the signature of `fields`, compared in constant time. WeChat signs
    /// in upper-case hex, so any other spelling is a mismatch.
    public static func isValid(sign: String, for fields: [String: String], type: SignType, key: APIKey) -> Bool {
        constantTimeEqual(Array(Self.sign(fields, type: type, key: key).utf8), Array(sign.utf8))
    }

    static func stringToSign(_ fields: [String: String], key: APIKey) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        // Sorting the UTF-8 bytes of the names gives the byte order the spec asks for.
        let names = fields.keys.filter { $0 != "sign" && !(fields[$0]!.isEmpty) }
            .sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        for name in names {
            out.append(contentsOf: name.utf8)
            out.append(UInt8(ascii: "="))
            out.append(contentsOf: fields[name]!.utf8)
            out.append(UInt8(ascii: "&"))
        }
        out.append(contentsOf: "key=".utf8)
        out.append(contentsOf: key.bytes)
        return out
    }

    /// Compares in time that depends only on the lengths, not on where the bytes differ.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }

    private static func hexUpper<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
        let digits = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(64)
        for byte in digest {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
