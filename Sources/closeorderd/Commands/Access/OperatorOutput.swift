import Foundation
import ServiceSupport

// What every operator command prints rows with: escaped database text and stable JSON.

/// Database text (WeChat's words, error texts, what a daemon published) with control characters
/// escaped as the log handlers escape them, so a row cannot move the cursor, recolour the
/// terminal or fake a line of output.
func shown(_ text: String) -> String {
    LogfmtLogHandler.escapingControlCharacters(text)
}

func encodeJSON(_ value: some Encodable) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    encoder.keyEncodingStrategy = .convertToSnakeCase
    return String(decoding: try encoder.encode(value), as: UTF8.self)
}
