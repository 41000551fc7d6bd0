/// Encodes fields in the journal's native protocol, as described in systemd's
/// "Native Journal Protocol" document: `NAME=value\n`, or for values containing a newline
/// `NAME\n` + little-endian UInt64 length + raw bytes + `\n`.
///
/// Hand-written because linking libsystemd's `sd_journal_send` would add a C dependency and a
/// system library to the static binary for what is a few lines of framing.
struct JournalDatagram {
    private(set) var bytes: [UInt8] = []

    /// Appends one field; `name` must already be valid (see ``fieldName(forMetadataKey:reserved:)``).
    mutating func append(_ name: String, _ value: String) {
        bytes.append(contentsOf: name.utf8)
        let utf8 = value.utf8
        if utf8.contains(UInt8(ascii: "\n")) {
            bytes.append(UInt8(ascii: "\n"))
            withUnsafeBytes(of: UInt64(utf8.count).littleEndian) { bytes.append(contentsOf: $0) }
            bytes.append(contentsOf: utf8)
        } else {
            bytes.append(UInt8(ascii: "="))
            bytes.append(contentsOf: utf8)
        }
        bytes.append(UInt8(ascii: "\n"))
    }

    /// Longest field name journald accepts.
    static let maximumNameLength = 64

    /// Maps a metadata key to a journal field name, so `out_trade_no` becomes `OUT_TRADE_NO`
    /// and `journalctl OUT_TRADE_NO=T1` finds it.
    ///
    /// journald silently drops fields whose names are not `[A-Z0-9_]`, start with `_` (reserved
    /// for trusted fields it adds itself), start with a digit, or exceed 64 characters, so every
    /// key is forced into that shape. Names in `reserved` (the fields the handler sets itself)
    /// and names starting with a digit get a `META_` prefix so metadata can never forge
    /// `PRIORITY` or `MESSAGE`.
    static func fieldName(forMetadataKey key: String, reserved: Set<String>) -> String {
        var name = String(
            String.UnicodeScalarView(
                key.unicodeScalars.map { scalar -> Unicode.Scalar in
                    switch scalar {
                    case "a"..."z": return Unicode.Scalar(scalar.value - 0x20)!
                    case "A"..."Z", "0"..."9", "_": return scalar
                    default: return "_"
                    }
                }))
        name = String(name.drop { $0 == "_" })
        if name.isEmpty {
            name = "META"
        } else if name.first!.isNumber || reserved.contains(name) {
            name = "META_" + name
        }
        return String(name.prefix(maximumNameLength))
    }
}
