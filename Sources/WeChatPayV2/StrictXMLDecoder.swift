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
        // Read in place when the bytes are contiguous (an Array, a String's UTF-8); copy only otherwise.
        let result = bytes.withContiguousStorageIfAvailable(read) ?? Array(bytes).withUnsafeBufferPointer(read)
        return try result.get()
    }

    public static func decode(_ text: String) throws(ProtocolError) -> [String: String] {
        try decode(text.utf8)
    }

    private static func read(_ bytes: UnsafeBufferPointer<UInt8>) -> Result<[String: String], ProtocolError> {
        var reader = Reader(bytes: bytes)
        return Result { () throws(ProtocolError) in try reader.document() }
    }
}

/// Reads the document in place, byte by byte; names are positions in the body until a field is
/// stored, and a value is copied once, straight into its `String`, when it is one piece.
private struct Reader {
    let bytes: UnsafeBufferPointer<UInt8>
    var index = 0

    init(bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    mutating func document() throws(ProtocolError) -> [String: String] {
        if hasPrefix("\u{FEFF}") { index += 3 }
        try rejectHostileMarkup()
        skipWhitespace()
        if hasPrefix("<?xml"), index + 5 < bytes.count, isWhitespace(bytes[index + 5]) {
            guard let end = find("?>") else { throw truncated("the XML declaration") }
            index = end + 2
            skipWhitespace()
        }
        guard index < bytes.count else { throw .malformedXML("the body is empty") }
        let root = try openTag()
        guard matches(root.name, "xml"), !root.selfClosing else {
            throw .malformedXML("the root element must be <xml>, found <\(text(root.name))>")
        }
        // Room for a closeorder answer without growing (and re-hashing) on the way.
        var fields = [String: String](minimumCapacity: 16)
        while true {
            skipWhitespace()
            guard index < bytes.count else { throw truncated("<xml>") }
            if hasPrefix("</") {
                try closeTag(root.name)
                break
            }
            let child = try openTag()
            // One hash per field: the duplicate check and the insertion share the dictionary slot.
            try field(child, into: &fields[text(child.name)])
        }
        skipWhitespace()
        guard index == bytes.count else { throw .malformedXML("content after </xml>") }
        return fields
    }

    mutating func field(_ tag: (name: Range<Int>, selfClosing: Bool), into slot: inout String?) throws(ProtocolError) {
        guard slot == nil else { throw .malformedXML("field <\(text(tag.name))> appears twice") }
        slot = tag.selfClosing ? "" : try content(of: tag.name)
    }

    /// DOCTYPE and ENTITY are refused wherever they appear, before anything else is read. One pass
    /// over the body, eight bytes at a time looking for `!` (rarer than `<`: only CDATA has it);
    /// DOCTYPE is named when both appear.
    func rejectHostileMarkup() throws(ProtocolError) {
        var declaresEntity = false
        var position = 1
        while position < bytes.count {
            if position + 8 <= bytes.count {
                let word = UnsafeRawPointer(bytes.baseAddress! + position).loadUnaligned(as: UInt64.self)
                // The classic zero-byte test on word XOR "!!!!!!!!": no byte of the eight is `!`.
                let x = word ^ 0x2121_2121_2121_2121
                if (x &- 0x0101_0101_0101_0101) & ~x & 0x8080_8080_8080_8080 == 0 {
                    position += 8
                    continue
                }
            }
            if bytes[position] == UInt8(ascii: "!"), bytes[position - 1] == UInt8(ascii: "<") {
                if matchesIgnoringCase("DOCTYPE", at: position + 1) {
                    throw .hostileXML("the body declares DOCTYPE (refused: XXE and entity expansion)")
                }
                if matchesIgnoringCase("ENTITY", at: position + 1) { declaresEntity = true }
            }
            position += 1
        }
        if declaresEntity { throw .hostileXML("the body declares ENTITY (refused: XXE and entity expansion)") }
    }

    mutating func openTag() throws(ProtocolError) -> (name: Range<Int>, selfClosing: Bool) {
        guard index < bytes.count, bytes[index] == UInt8(ascii: "<") else { throw unexpected("text outside a field") }
        index += 1
        if index < bytes.count, bytes[index] == UInt8(ascii: "!") || bytes[index] == UInt8(ascii: "?") {
            throw unexpected("markup other than a field")
        }
        let name = try readName()
        skipWhitespace()
        if hasPrefix("/>") {
            index += 2
            return (name, true)
        }
        guard index < bytes.count, bytes[index] == UInt8(ascii: ">") else {
            if index >= bytes.count { throw truncated("<\(text(name))>") }
            throw .malformedXML("element <\(text(name))> has attributes or a bad tag")
        }
        index += 1
        return (name, false)
    }

    mutating func closeTag(_ name: Range<Int>) throws(ProtocolError) {
        index += 2
        let found = try readName()
        skipWhitespace()
        guard bytes[found].elementsEqual(bytes[name]) else {
            throw .malformedXML("</\(text(found))> closes <\(text(name))>")
        }
        guard index < bytes.count, bytes[index] == UInt8(ascii: ">") else { throw truncated("</\(text(name))>") }
        index += 1
    }

    /// Text, entity references and CDATA up to `</name>`; any nested element is refused.
    ///
    /// The usual value is one piece (a CDATA section or plain text) and becomes a `String` straight
    /// from the body; only a value made of several pieces is gathered in a buffer first. Either way
    /// the whole value is checked as UTF-8 once, after its closing tag.
    mutating func content(of name: Range<Int>) throws(ProtocolError) -> String {
        var piece: Range<Int>? = nil
        var joined: [UInt8]? = nil
        while true {
            guard index < bytes.count else { throw truncated("<\(text(name))>") }
            let current = bytes[index]
            let next: Range<Int>
            if current == UInt8(ascii: "<") {
                if hasPrefix("<![CDATA[") {
                    index += 9
                    guard let end = find("]]>") else { throw truncated("a CDATA section in <\(text(name))>") }
                    next = index..<end
                    index = end + 3
                } else if hasPrefix("</") {
                    try closeTag(name)
                    break
                } else {
                    throw .malformedXML("field <\(text(name))> contains markup (only flat fields are allowed)")
                }
            } else if current == UInt8(ascii: "&") {
                let scalar = try entity(in: name)
                join(&piece, into: &joined)
                UTF8.encode(scalar) { joined!.append($0) }
                continue
            } else {
                let start = index
                repeat {
                    index += 1
                } while index < bytes.count && bytes[index] != UInt8(ascii: "<") && bytes[index] != UInt8(ascii: "&")
                next = start..<index
            }
            if piece == nil, joined == nil {
                piece = next
            } else {
                join(&piece, into: &joined)
                joined!.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[next]))
            }
        }
        let value: String?
        if let joined {
            value = joined.withUnsafeBufferPointer(Self.validatedText)
        } else if let piece {
            value = Self.validatedText(UnsafeBufferPointer(rebasing: bytes[piece]))
        } else {
            value = ""
        }
        guard let value else { throw .malformedXML("field <\(text(name))> is not valid UTF-8") }
        return value
    }

    /// `String(validating:)`, with a shortcut for ASCII (nearly every value WeChat sends), which
    /// needs no validation and skips that initialiser's generic set-up.
    static func validatedText(_ bytes: UnsafeBufferPointer<UInt8>) -> String? {
        var union: UInt8 = 0
        for byte in bytes { union |= byte }
        if union < 0x80 { return String(decoding: bytes, as: UTF8.self) }
        return String(validating: bytes, as: UTF8.self)
    }

    /// Moves a value that was one piece of the body into a buffer, so more pieces can follow it.
    func join(_ piece: inout Range<Int>?, into joined: inout [UInt8]?) {
        guard joined == nil else { return }
        var buffer: [UInt8] = []
        if let piece { buffer.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[piece])) }
        piece = nil
        joined = buffer
    }

    mutating func entity(in name: Range<Int>) throws(ProtocolError) -> Unicode.Scalar {
        // The `;` must come within 10 bytes of the `&`; looking further would change nothing.
        let limit = min(bytes.count, index + 11)
        var semicolon = index + 1
        while semicolon < limit, bytes[semicolon] != UInt8(ascii: ";") { semicolon += 1 }
        guard semicolon < limit else {
            throw .malformedXML("an unterminated entity reference in <\(text(name))>")
        }
        let reference = (index + 1)..<semicolon
        index = semicolon + 1
        guard let scalar = scalar(for: reference) else {
            throw .malformedXML("undefined entity &\(text(reference)); in <\(text(name))>")
        }
        return scalar
    }

    /// The five predefined entities and `&#digits;` / `&#xhex;` character references (digits only:
    /// no sign, no `&#X`), never U+0000, a surrogate or beyond U+10FFFF.
    func scalar(for reference: Range<Int>) -> Unicode.Scalar? {
        if matches(reference, "lt") { return "<" }
        if matches(reference, "gt") { return ">" }
        if matches(reference, "amp") { return "&" }
        if matches(reference, "quot") { return "\"" }
        if matches(reference, "apos") { return "'" }
        guard !reference.isEmpty, bytes[reference.lowerBound] == UInt8(ascii: "#") else { return nil }
        var digits = reference.dropFirst()
        let radix: UInt32
        if let first = digits.first, bytes[first] == UInt8(ascii: "x") {
            radix = 16
            digits = digits.dropFirst()
        } else {
            radix = 10
        }
        guard !digits.isEmpty else { return nil }
        // At most 8 digits fit before the `;` limit, so the value cannot overflow.
        var value: UInt32 = 0
        for position in digits {
            let byte = bytes[position]
            let digit: UInt32
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f") where radix == 16: digit = UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F") where radix == 16: digit = UInt32(byte - UInt8(ascii: "A") + 10)
            default: return nil
            }
            value = value &* radix &+ digit
        }
        guard value != 0 else { return nil }
        return Unicode.Scalar(value)
    }

    mutating func readName() throws(ProtocolError) -> Range<Int> {
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
        return start..<index
    }

    func isNameByte(_ byte: UInt8) -> Bool {
        (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39)
            || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")
    }

    func isWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
    }

    mutating func skipWhitespace() {
        while index < bytes.count, isWhitespace(bytes[index]) { index += 1 }
    }

    /// The bytes at `range` as text (names are ASCII; anything else is shown with U+FFFD).
    func text(_ range: Range<Int>) -> String {
        String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self)
    }

    func matches(_ range: Range<Int>, _ expected: StaticString) -> Bool {
        range.count == expected.utf8CodeUnitCount && hasPrefix(expected, at: range.lowerBound)
    }

    func hasPrefix(_ prefix: StaticString) -> Bool { hasPrefix(prefix, at: index) }

    func hasPrefix(_ prefix: StaticString, at position: Int) -> Bool {
        let count = prefix.utf8CodeUnitCount
        guard bytes.count - position >= count else { return false }
        let expected = prefix.utf8Start
        for offset in 0..<count where bytes[position + offset] != expected[offset] { return false }
        return true
    }

    /// Whether an upper-case ASCII `word` is at `position`, in any letter case.
    func matchesIgnoringCase(_ word: StaticString, at position: Int) -> Bool {
        let count = word.utf8CodeUnitCount
        guard bytes.count - position >= count else { return false }
        let expected = word.utf8Start
        // Clearing bit 5 upper-cases a letter; for the upper-case letters of `word` only the byte
        // itself and its lower-case form match.
        for offset in 0..<count where bytes[position + offset] & 0xDF != expected[offset] { return false }
        return true
    }

    func find(_ needle: StaticString) -> Int? {
        let count = needle.utf8CodeUnitCount
        let first = needle.utf8Start[0]
        var position = index
        while position + count <= bytes.count {
            if bytes[position] == first, hasPrefix(needle, at: position) { return position }
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
