/// Decodes WeChat's flat `<xml>` documents, and nothing else.
///
/// Why a small reader of our own rather than FoundationXML: on Linux `XMLParser` runs libxml2 in
/// recover mode, so truncated or mismatched documents still "succeed", entity references silently
/// become empty text, and external entities can be fetched. Guarding it from outside needs a
/// pre-scan of the bytes anyway, and the whole grammar we accept is tiny. This reader accepts
/// exactly: an optional UTF-8 BOM, an optional `<?xml …?>` declaration, one `<xml>` root without
/// attributes, and flat children `<name>text or CDATA</name>` (or `<name/>`), each name once.
/// It rejects DOCTYPE/ENTITY outright (XXE, billion laughs), and any other markup, undefined
/// entity, stray text, nesting, truncation or trailing content. No library offers that contract.
public enum StrictXMLDecoder {
    /// Bodies larger than this are refused; WeChat's answers are well under 2 KiB.
    public static let maximumSize = 64 * 1024

    public static func decode(_ bytes: some Collection<UInt8>) throws(ProtocolError) -> [String: String] {
        guard bytes.count <= maximumSize else { throw .malformedXML("body is larger than \(maximumSize) bytes") }
        var reader = Reader(bytes: Array(bytes))
        return try reader.document()
    }

    public static func decode(_ text: String) throws(ProtocolError) -> [String: String] {
        try decode(Array(text.utf8))
    }
}

private struct Reader {
    let bytes: [UInt8]
    var index = 0

    init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    mutating func document() throws(ProtocolError) -> [String: String] {
        if hasPrefix([0xEF, 0xBB, 0xBF]) { index += 3 }
        try rejectHostileMarkup()
        skipWhitespace()
        if hasPrefix("<?xml"), index + 5 < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index + 5]) {
            guard let end = find("?>") else { throw truncated("the XML declaration") }
            index = end + 2
            skipWhitespace()
        }
        guard index < bytes.count else { throw .malformedXML("the body is empty") }
        let root = try openTag()
        guard root.name == "xml", !root.selfClosing else {
            throw .malformedXML("the root element must be <xml>, found <\(root.name)>")
        }
        var fields: [String: String] = [:]
        while true {
            skipWhitespace()
            guard index < bytes.count else { throw truncated("<xml>") }
            if hasPrefix("</") {
                try closeTag("xml")
                break
            }
            let child = try openTag()
            guard fields[child.name] == nil else { throw .malformedXML("field <\(child.name)> appears twice") }
            fields[child.name] = child.selfClosing ? "" : try content(of: child.name)
        }
        skipWhitespace()
        guard index == bytes.count else { throw .malformedXML("content after </xml>") }
        return fields
    }

    /// DOCTYPE and ENTITY are refused wherever they appear, before anything else is read.
    func rejectHostileMarkup() throws(ProtocolError) {
        for marker in ["<!DOCTYPE", "<!ENTITY"] {
            if find(marker, from: 0, caseInsensitive: true) != nil {
                throw .hostileXML("the body declares \(marker.dropFirst(2)) (refused: XXE and entity expansion)")
            }
        }
    }

    mutating func openTag() throws(ProtocolError) -> (name: String, selfClosing: Bool) {
        guard byte() == UInt8(ascii: "<") else { throw unexpected("text outside a field") }
        index += 1
        if hasPrefix("!") || hasPrefix("?") { throw unexpected("markup other than a field") }
        let name = try readName()
        skipWhitespace()
        if hasPrefix("/>") { index += 2; return (name, true) }
        guard byte() == UInt8(ascii: ">") else {
            if index >= bytes.count { throw truncated("<\(name)>") }
            throw .malformedXML("element <\(name)> has attributes or a bad tag")
        }
        index += 1
        return (name, false)
    }

    mutating func closeTag(_ name: String) throws(ProtocolError) {
        index += 2
        let found = try readName()
        skipWhitespace()
        guard found == name else { throw .malformedXML("</\(found)> closes <\(name)>") }
        guard byte() == UInt8(ascii: ">") else { throw truncated("</\(name)>") }
        index += 1
    }

    /// Text, entity references and CDATA up to `</name>`; any nested element is refused.
    mutating func content(of name: String) throws(ProtocolError) -> String {
        var value: [UInt8] = []
        while true {
            guard index < bytes.count else { throw truncated("<\(name)>") }
            let current = bytes[index]
            if current == UInt8(ascii: "<") {
                if hasPrefix("<![CDATA[") {
                    index += 9
                    guard let end = find("]]>") else { throw truncated("a CDATA section in <\(name)>") }
                    value.append(contentsOf: bytes[index..<end])
                    index = end + 3
                } else if hasPrefix("</") {
                    try closeTag(name)
                    break
                } else {
                    throw .malformedXML("field <\(name)> contains markup (only flat fields are allowed)")
                }
            } else if current == UInt8(ascii: "&") {
                try value.append(contentsOf: entity(in: name))
            } else {
                value.append(current)
                index += 1
            }
        }
        guard let text = String(validating: value, as: UTF8.self) else {
            throw .malformedXML("field <\(name)> is not valid UTF-8")
        }
        return text
    }

    mutating func entity(in name: String) throws(ProtocolError) -> [UInt8] {
        guard let semicolon = find(";"), semicolon - index <= 10 else {
            throw .malformedXML("an unterminated entity reference in <\(name)>")
        }
        let reference = String(decoding: bytes[(index + 1)..<semicolon], as: UTF8.self)
        index = semicolon + 1
        switch reference {
        case "lt": return [UInt8(ascii: "<")]
        case "gt": return [UInt8(ascii: ">")]
        case "amp": return [UInt8(ascii: "&")]
        case "quot": return [UInt8(ascii: "\"")]
        case "apos": return [UInt8(ascii: "'")]
        default:
            // Digits only: Swift's integer parsing would also take a sign ("&#+65;" is not XML).
            var scalarValue: UInt32?
            if reference.hasPrefix("#x"), reference.dropFirst(2).allSatisfy(\.isHexDigit) {
                scalarValue = UInt32(reference.dropFirst(2), radix: 16)
            } else if reference.hasPrefix("#"), reference.dropFirst().allSatisfy({ $0.isASCII && $0.isNumber }) {
                scalarValue = UInt32(reference.dropFirst(), radix: 10)
            }
            guard let scalarValue, scalarValue != 0, let scalar = Unicode.Scalar(scalarValue) else {
                throw .malformedXML("undefined entity &\(reference); in <\(name)>")
            }
            return Array(String(Character(scalar)).utf8)
        }
    }

    mutating func readName() throws(ProtocolError) -> String {
        let start = index
        // A name starts with a letter or underscore, as the encoder writes them.
        if index < bytes.count, !XMLBodyEncoder.isNameStart(bytes[index]) {
            throw unexpected("a tag whose name does not start with a letter or underscore")
        }
        while index < bytes.count, isNameByte(bytes[index]) { index += 1 }
        guard index > start else {
            if index >= bytes.count { throw truncated("a tag") }
            throw unexpected("a tag without a valid name")
        }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }

    func isNameByte(_ byte: UInt8) -> Bool {
        (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39)
            || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")
    }

    mutating func skipWhitespace() {
        while index < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 }
    }

    func byte() -> UInt8? { index < bytes.count ? bytes[index] : nil }

    func hasPrefix(_ prefix: String) -> Bool { hasPrefix(Array(prefix.utf8)) }

    func hasPrefix(_ prefix: [UInt8]) -> Bool {
        guard bytes.count - index >= prefix.count else { return false }
        for (offset, expected) in prefix.enumerated() where bytes[index + offset] != expected { return false }
        return true
    }

    func find(_ needle: String, from start: Int? = nil, caseInsensitive: Bool = false) -> Int? {
        let pattern = Array(needle.utf8)
        var position = start ?? index
        func fold(_ byte: UInt8) -> UInt8 { caseInsensitive && byte >= 0x61 && byte <= 0x7A ? byte - 0x20 : byte }
        while position + pattern.count <= bytes.count {
            var matched = true
            for offset in 0..<pattern.count where fold(bytes[position + offset]) != fold(pattern[offset]) {
                matched = false
                break
            }
            if matched { return position }
            position += 1
        }
        return nil
    }

    func truncated(_ what: String) -> ProtocolError {
        .malformedXML("the body ends inside \(what) (truncated)")
    }

    func unexpected(_ what: String) -> ProtocolError {
        .malformedXML("unexpected \(what) at byte \(index)")
    }
}
