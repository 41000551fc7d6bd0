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
            return Insecure.MD5.hash(data: message).withUnsafeBytes(hexUpper)
        case .hmacSHA256:
            var hmac = key.hmacSHA256.hmac
            hmac.update(data: message)
            return hmac.finalize().withUnsafeBytes(hexUpper)
        }
    }

    /// Whether `sign` matches the signature of `fields`, compared in constant time. WeChat signs
    /// in upper-case hex, so any other spelling is a mismatch.
    public static func isValid(sign: String, for fields: [String: String], type: SignType, key: APIKey) -> Bool {
        constantTimeEqual(Self.sign(fields, type: type, key: key).utf8, sign.utf8)
    }

    /// Built in one buffer of the exact size, from the fields in one pass over the dictionary
    /// (no second lookup by name, so no re-hashing).
    static func stringToSign(_ fields: [String: String], key: APIKey) -> [UInt8] {
        let signed = inNameOrder(fields) { name, value in !value.isEmpty && name != "sign" }
        var size = 4 + key.bytes.count
        for (name, value, _) in signed { size += name.utf8.count + value.utf8.count + 2 }
        var out: [UInt8] = []
        out.reserveCapacity(size)
        for (name, value, _) in signed {
            out.append(contentsOf: name.utf8)
            out.append(UInt8(ascii: "="))
            out.append(contentsOf: value.utf8)
            out.append(UInt8(ascii: "&"))
        }
        out.append(contentsOf: "key=".utf8)
        out.append(contentsOf: key.bytes)
        return out
    }

    /// The fields that pass `include`, sorted by the UTF-8 bytes of their names (the byte order the
    /// spec asks for). Each name's first eight bytes, read once as a big-endian number, decide
    /// nearly every comparison without touching the strings again.
    static func inNameOrder(_ fields: [String: String], where include: (String, String) -> Bool)
        -> [(name: String, value: String, prefix: UInt64)]
    {
        var sorted: [(name: String, value: String, prefix: UInt64)] = []
        sorted.reserveCapacity(fields.count)
        for (name, value) in fields where include(name, value) {
            var prefix: UInt64 = 0
            var shift: UInt64 = 56
            for byte in name.utf8.prefix(8) {
                prefix |= UInt64(byte) << shift
                shift &-= 8
            }
            sorted.append((name, value, prefix))
        }
        sorted.sort { $0.prefix != $1.prefix ? $0.prefix < $1.prefix : $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
        return sorted
    }

    /// Compares in time that depends only on the lengths, not on where the bytes differ.
    static func constantTimeEqual(_ a: some Collection<UInt8>, _ b: some Collection<UInt8>) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for (x, y) in zip(a, b) { difference |= x ^ y }
        return difference == 0
    }

    private static func hexUpper(_ digest: UnsafeRawBufferPointer) -> String {
        String(unsafeUninitializedCapacity: 2 * digest.count) { out in
            for (offset, byte) in digest.enumerated() {
                out[2 * offset] = hexDigit(byte >> 4)
                out[2 * offset + 1] = hexDigit(byte & 0x0F)
            }
            return 2 * digest.count
        }
    }

    /// Without a branch or a table: the digits of the expected sign should not shape the timing.
    private static func hexDigit(_ nibble: UInt8) -> UInt8 {
        // (9 - nibble) wraps to 0xF6…0xFF for 10…15, whose top bit then adds the 7 from '9'+1 to 'A'.
        UInt8(ascii: "0") + nibble + 7 * ((9 &- nibble) >> 7)
    }
}
