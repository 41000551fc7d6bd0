import Logging

/// Writes each event as one JSON object per line on stderr: `ts`, `level`, `msg`, then the
/// metadata keys (sorted): numbers given as numbers (`.stringConvertible(42)`) stay numbers, the rest
/// are strings.
///
/// Encoded by hand rather than with `JSONEncoder`/`JSONSerialization`: those cannot keep the
/// fixed keys first, and a log line needs only strings, so a small escaper is simpler and
/// allocation-light. swift-log ships no JSON backend and none is in the package mirror.
public struct JSONLogHandler: LogHandler {
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

    /// One JSON object, without the trailing newline.
    static func line(timestamp: String, record: LogRecord) -> String {
        var line = "{\"ts\":" + quote(timestamp)
        line += ",\"level\":" + quote(record.level.rawValue)
        line += ",\"msg\":" + quote(record.message)
        for (key, value) in record.fields {
            line +=
                "," + quote(LogRecord.key(key, avoiding: fixedKeys)) + ":"
                + (record.numericKeys.contains(key) ? value : quote(value))
        }
        return line + "}"
    }

    /// A JSON string literal (RFC 8259 §7). U+2028/U+2029 are escaped too, so a line is also
    /// safe to embed in JavaScript and never looks like two lines to a naive splitter.
    static func quote(_ string: String) -> String {
        var result = "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F || scalar == "\u{2028}" || scalar == "\u{2029}":
                result += LogfmtLogHandler.unicodeEscape(scalar)
            default:
                result.unicodeScalars.append(scalar)
            }
        }
        return result + "\""
    }
}
