/// Encodes a flat field map as WeChat's `<xml>` body: one child per field, values in CDATA.
///
/// A value containing `]]>` is split across two CDATA sections (`]]]]><![CDATA[>`), which is the
/// standard way to carry that sequence. Fields are written in name order so bodies are reproducible.
public enum XMLBodyEncoder {
    /// - Throws: `ProtocolError` if a field name is not a plain XML name (`[A-Za-z_][A-Za-z0-9_]*`).
    public static func encode(_ fields: [String: String]) throws(ProtocolError) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(64 + fields.reduce(0) { $0 + 2 * $1.key.utf8.count + $1.value.utf8.count + 17 })
        out.append(contentsOf: "<xml>".utf8)
        for name in fields.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
            guard isPlainName(name) else { throw .invalidField("field name \"\(name)\" is not a plain XML name") }
            out.append(UInt8(ascii: "<")); out.append(contentsOf: name.utf8); out.append(UInt8(ascii: ">"))
            appendCDATA(fields[name]!, to: &out)
            out.append(contentsOf: "</".utf8); out.append(contentsOf: name.utf8); out.append(UInt8(ascii: ">"))
        }
        out.append(contentsOf: "</xml>".utf8)
        return out
    }

    static func appendCDATA(_ value: String, to out: inout [UInt8]) {
        out.append(contentsOf: "<![CDATA[".utf8)
        let bytes = Array(value.utf8)
        var index = 0
        while index < bytes.count {
            if index + 2 < bytes.count, bytes[index] == 0x5D, bytes[index + 1] == 0x5D, bytes[index + 2] == 0x3E {
                out.append(contentsOf: "]]]]><![CDATA[>".utf8)
                index += 3
            } else {
                out.append(bytes[index])
                index += 1
            }
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
