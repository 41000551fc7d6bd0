/// Encodes a flat field map as WeChat's `<xml>` body: one child per field, values in CDATA.
///
/// A value containing `]]>` is split across two CDATA sections (`]]]]><![CDATA[>`), which is the
/// standard way to carry that sequence. Fields are written in name order so bodies are reproducible.
public enum XMLBodyEncoder {
    /// - Throws: `ProtocolError` if a field name is not a plain XML name (`[A-Za-z_][A-Za-z0-9_]*`).
    public static func encode(_ fields: [String: String]) throws(ProtocolError) -> [UInt8] {
        // One pass over the dictionary: the pairs are sorted as they are, never looked up again by name.
        let sorted = Signer.inNameOrder(fields) { _, _ in true }
        var size = 11  // <xml></xml>
        for (name, value, _) in sorted { size += 2 * name.utf8.count + value.utf8.count + 17 }  // <n><![CDATA[…]]></n>
        var out: [UInt8] = []
        out.reserveCapacity(size)
        out.append(contentsOf: "<xml>".utf8)
        for (name, value, _) in sorted {
            guard isPlainName(name) else { throw .invalidField("field name \"\(name)\" is not a plain XML name") }
            out.append(UInt8(ascii: "<"))
            out.append(contentsOf: name.utf8)
            out.append(UInt8(ascii: ">"))
            appendCDATA(value, to: &out)
            out.append(contentsOf: "</".utf8)
            out.append(contentsOf: name.utf8)
            out.append(UInt8(ascii: ">"))
        }
        out.append(contentsOf: "</xml>".utf8)
        return out
    }

    static func appendCDATA(_ value: String, to out: inout [UInt8]) {
        out.append(contentsOf: "<![CDATA[".utf8)
        // A value without `]]>` (nearly all of them) is copied in one piece.
        var value = value
        value.withUTF8 { bytes in
            var start = 0
            var index = 0
            while index + 2 < bytes.count {
                if bytes[index] == 0x5D, bytes[index + 1] == 0x5D, bytes[index + 2] == 0x3E {
                    out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<index]))
                    out.append(contentsOf: "]]]]><![CDATA[>".utf8)
                    index += 3
                    start = index
                } else {
                    index += 1
                }
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start...]))
        }
        out.append(contentsOf: "]]>".utf8)
    }

    static func isPlainName(_ name: String) -> Bool {
        guard let first = name.utf8.first, isNameStart(first) else { return false }
        return name.utf8.allSatisfy { isNameStart($0) || ($0 >= 0x30 && $0 <= 0x39) }
    }

    static func isNameStart(_ byte: UInt8) -> Bool {
        (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || byte == 0x5F
    }
}
