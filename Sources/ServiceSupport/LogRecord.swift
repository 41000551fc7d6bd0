import Logging

/// One event with its metadata merged and flattened to strings, shared by every output format.
///
/// Merging happens here once so logfmt, JSON and the journal agree on which value wins:
/// handler metadata, then the metadata provider, then the call's own metadata (the same
/// precedence as swift-log's `StreamLogHandler`).
struct LogRecord {
    var level: Logger.Level
    var message: String
    /// Metadata as strings, sorted by key so lines are stable and easy to diff.
    var fields: [(key: String, value: String)]
    /// Keys whose value was given as a number (`.stringConvertible` of an integer or floating
    /// point): JSON writes them as numbers, the text formats as they are.
    var numericKeys: Set<String> = []

    init(
        event: LogEvent,
        handlerMetadata: Logger.Metadata,
        metadataProvider: Logger.MetadataProvider?
    ) {
        var merged = handlerMetadata
        if let provided = metadataProvider?.get(), !provided.isEmpty {
            merged.merge(provided) { _, new in new }
        }
        if let explicit = event.metadata, !explicit.isEmpty {
            merged.merge(explicit) { _, new in new }
        }
        if let error = event.error, merged["error"] == nil {
            merged["error"] = .string(String(describing: error))
        }
        self.level = event.level
        self.message = event.message.description
        self.fields =
            merged
            .map { (key: $0.key, value: Self.flatten($0.value)) }
            .sorted { $0.key < $1.key }
        self.numericKeys = Set(
            merged.compactMap { key, value in
                guard case .stringConvertible(let convertible) = value,
                    convertible is any BinaryInteger
                        || (convertible as? any BinaryFloatingPoint).map({ Double($0).isFinite }) == true
                else { return nil }
                return key
            })
    }

    init(level: Logger.Level, message: String, fields: [(key: String, value: String)]) {
        self.level = level
        self.message = message
        self.fields = fields
    }

    /// Nested metadata becomes one string: the outputs only carry flat string values, and
    /// dictionary keys are sorted because `MetadataValue.description` uses hash order.
    static func flatten(_ value: Logger.MetadataValue) -> String {
        switch value {
        case .string(let string):
            return string
        case .stringConvertible(let convertible):
            return convertible.description
        case .array(let values):
            return "[" + values.map(flatten).joined(separator: ", ") + "]"
        case .dictionary(let dictionary):
            let entries = dictionary.sorted { $0.key < $1.key }.map { "\($0.key): \(flatten($0.value))" }
            return "[" + entries.joined(separator: ", ") + "]"
        }
    }

    /// A metadata key that would collide with one of the fixed keys of a format gets this prefix,
    /// so a caller's `msg` or `level` metadata can never overwrite or duplicate the real one.
    static func key(_ key: String, avoiding reserved: Set<String>) -> String {
        reserved.contains(key) ? "meta_" + key : key
    }
}
