import Logging

/// Writes each event as one logfmt line on stderr:
/// `ts=2026-11-29T01:02:03.456Z level=info msg="close attempt" attempt=1 out_trade_no=T1`.
///
/// Written by hand because swift-log itself only ships `StreamLogHandler`, whose output is not
/// machine-parseable, and no logfmt backend is available in the package mirror. logfmt is
/// readable in a terminal and still parseable by Loki, `hl`, `lnav` and friends.
public struct LogfmtLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    public var logLevel: Logger.Level = .info
    public let label: String

    private let write: @Sendable (String) -> Void
    private let timestamp: @Sendable () -> String

    public init(label: String, metadataProvider: Logger.MetadataProvider? = LoggingSystem.metadataProvider) {
        self.init(label: label, metadataProvider: metadataProvider, write: StandardError.write, timestamp: LogTimestamp.now)
    }

    /// Lets tests capture lines and pin the clock.
    init(
        label: String,
        metadataProvider: Logger.MetadataProvider?,
        write: @escaping @Sendable (String) -> Void,
        timestamp: @escaping @Sendable () -> String
    ) {
        self.label = label
        self.metadataProvider = metadataProvider
        self.write = write
        self.timestamp = timestamp
    }

    public func log(event: LogEvent) {
        let record = LogRecord(event: event, handlerMetadata: metadata, metadataProvider: metadataProvider)
        write(Self.line(timestamp: timestamp(), record: record))
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    static let fixedKeys: Set<String> = ["ts", "level", "msg"]

    /// The line without its trailing newline; also the journal handler's stderr fallback.
    static func line(timestamp: String, record: LogRecord) -> String {
        var line = "ts=" + encodeValue(timestamp)
        line += " level=" + record.level.rawValue
        line += " msg=" + encodeValue(record.message)
        for (key, value) in record.fields {
            line += " " + encodeKey(LogRecord.key(key, avoiding: fixedKeys)) + "=" + encodeValue(value)
        }
        return line
    }

    /// Keys are never quoted in logfmt, so anything that would end or split a key becomes `_`.
    static func encodeKey(_ key: String) -> String {
        guard !key.isEmpty else { return "_" }
        var result = String.UnicodeScalarView()
        for scalar in key.unicodeScalars {
            let breaksKey = scalar == "=" || scalar == "\"" || scalar == "\\" || isSpaceOrControl(scalar)
            result.append(breaksKey ? "_" : scalar)
        }
        return String(result)
    }

    /// Bare when the value is one token; otherwise quoted with `"`, `\` and control characters
    /// escaped, so a value can never break the line or fake another key.
    static func encodeValue(_ value: String) -> String {
        guard needsQuotes(value) else { return value }
        return "\"" + escapingControlCharacters(value, quotes: true) + "\""
    }

    /// `value` with `\`, `\n`, `\r`, `\t` and every other control character (C0, DEL, C1, ESC,
    /// U+2028/9) escaped, and `"` too when `quotes` is set. The CLI prints database text (WeChat's
    /// words, error texts) through this, so it cannot move the cursor, recolour the terminal or
    /// fake a line, as the log lines cannot.
    public static func escapingControlCharacters(_ value: String, quotes: Bool = false) -> String {
        var result = ""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"" where quotes: result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case _ where isControl(scalar): result += unicodeEscape(scalar)
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    /// Scans bytes first: most values (ids, numbers, codes) are plain ASCII, and only text with
    /// non-ASCII characters needs the slower Unicode whitespace check.
    static func needsQuotes(_ value: String) -> Bool {
        if value.isEmpty { return true }
        var hasNonASCII = false
        for byte in value.utf8 {
            if byte >= 0x80 {
                hasNonASCII = true
            } else if byte <= 0x20 || byte == 0x7F || byte == UInt8(ascii: "=") || byte == UInt8(ascii: "\"") {
                return true
            }
        }
        return hasNonASCII && value.unicodeScalars.contains { $0.value >= 0x80 && isSpaceOrControl($0) }
    }

    /// Space, C0/C1 controls, DEL and Unicode line/paragraph separators (which some viewers
    /// treat as line breaks).
    static func isSpaceOrControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar == " " || isControl(scalar) || scalar.properties.isWhitespace
    }

    static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) || scalar == "\u{2028}" || scalar == "\u{2029}"
    }

    /// `\u001b`-style escape, the form JSON and Go's logfmt decoders both understand.
    static func unicodeEscape(_ scalar: Unicode.Scalar) -> String {
        let hex = String(scalar.value, radix: 16)
        return "\\u" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    }
}
