/// A batch's rows as one JSON array for `jsonb_to_recordset` (issue 24), written by hand:
/// Foundation's `JSONEncoder` cost ≈ 12 µs per close in the daemon's profile (a keyed container,
/// boxes and a sort per row), more than the statement it fills. Keys are the SQL's column names;
/// a nil is written as `null`, which `jsonb_to_recordset` reads as NULL as it does an absent key.
///
/// | value                         | written as                                          |
/// |-------------------------------|-----------------------------------------------------|
/// | `String`                      | quoted; `"` `\` and U+0000–U+001F escaped, the rest UTF-8 as is |
/// | `Int64`, `Int`                | decimal                                             |
/// | `Bool`                        | `true` / `false`                                    |
/// | nil                           | `null`                                              |
struct PostgresJSONRows {
    private(set) var text = "["
    private var rowOpen = false, firstRow = true, firstField = true

    /// Starts the next object; the previous one, if any, is closed.
    mutating func row() {
        if rowOpen { text += "}" }
        text += firstRow ? "{" : ",{"
        (rowOpen, firstRow, firstField) = (true, false, true)
    }

    /// The array, every object closed.
    var json: String { text + (rowOpen ? "}]" : "]") }

    mutating func field(_ key: String, _ value: String?) {
        name(key)
        if let value { Self.quote(value, into: &text) } else { text += "null" }
    }

    mutating func field(_ key: String, _ value: Int64?) {
        name(key)
        text += value.map { String($0) } ?? "null"
    }

    mutating func field(_ key: String, _ value: Int?) {
        field(key, value.map(Int64.init))
    }

    mutating func field(_ key: String, _ value: Bool) {
        name(key)
        text += value ? "true" : "false"
    }

    private mutating func name(_ key: String) {
        if !firstField { text += "," }
        firstField = false
        Self.quote(key, into: &text)
        text += ":"
    }

    /// `value` as a JSON string.
    static func quote(_ value: String, into text: inout String) {
        text += "\""
        guard value.utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) else {
            text += value
            text += "\""
            return
        }
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": text += "\\\""
            case "\\": text += "\\\\"
            case "\n": text += "\\n"
            case "\r": text += "\\r"
            case "\t": text += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                text += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: text.unicodeScalars.append(scalar)
            }
        }
        text += "\""
    }
}
