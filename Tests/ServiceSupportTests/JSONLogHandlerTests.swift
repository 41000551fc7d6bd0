import Foundation
import Logging
import Testing

@testable import ServiceSupport

@Suite("JSON handler")
struct JSONLogHandlerTests {
    private func log(
        _ message: Logger.Message,
        level: Logger.Level = .info,
        metadata: Logger.Metadata? = nil
    ) throws -> (line: String, object: [String: String]) {
        let collector = LineCollector()
        let handler = JSONLogHandler(
            label: "closeorderd", metadataProvider: nil, write: collector.append,
            timestamp: { "2026-11-29T01:02:03.456Z" }
        )
        var logger = Logger(label: "closeorderd") { _ in handler }
        logger.logLevel = .trace
        logger.log(level: level, message, metadata: metadata)
        let line = try #require(collector.lines.first)
        #expect(collector.lines.count == 1)
        #expect(!line.contains("\n"), "one event, one line")
        let parsed = try JSONSerialization.jsonObject(with: Data(line.utf8))
        let object = try #require(parsed as? [String: String], "every value is a string")
        return (line, object)
    }

    @Test func writesFixedKeysFirstThenSortedMetadata() throws {
        let (line, object) = try log("close attempt", metadata: ["out_trade_no": "T1", "attempt": "1"])
        #expect(
            line == #"{"ts":"2026-11-29T01:02:03.456Z","level":"info","msg":"close attempt","attempt":"1","out_trade_no":"T1"}"#)
        #expect(
            object == [
                "ts": "2026-11-29T01:02:03.456Z", "level": "info", "msg": "close attempt",
                "attempt": "1", "out_trade_no": "T1",
            ])
    }

    /// Issue 12: JSON logs carried numbers as strings.
    @Test func numbersGivenAsNumbersStayNumbers() throws {
        let collector = LineCollector()
        let handler = JSONLogHandler(
            label: "closeorderd", metadataProvider: nil, write: collector.append,
            timestamp: { "2026-11-29T01:02:03.456Z" })
        let logger = Logger(label: "closeorderd") { _ in handler }
        logger.info(
            "close T1",
            metadata: [
                "attempt": .stringConvertible(2), "latency_ms": .stringConvertible(Int64(31)),
                "mch_id": "1900000109", "ratio": .stringConvertible(0.5),
            ])
        let line = try #require(collector.lines.first)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["attempt"] as? Int == 2 && object["latency_ms"] as? Int == 31 && object["ratio"] as? Double == 0.5)
        #expect(object["mch_id"] as? String == "1900000109", "a digit string stays a string")
    }

    @Test func anyMessageRoundTrips() throws {
        let message = "say \"hi\"\\ then\nnew line\r\ttab \u{0}\u{1}\u{1B}[0m\u{7F} 订单已关闭 🙂 \u{2028}"
        let (_, object) = try log("\(message)", level: .error, metadata: ["detail": "\(message)"])
        #expect(object["msg"] == message)
        #expect(object["detail"] == message)
        #expect(object["level"] == "error")
    }

    @Test func everyControlCharacterIsEscaped() throws {
        let controls = String(String.UnicodeScalarView((0..<0x20).map { Unicode.Scalar(UInt8($0)) }))
        let (line, object) = try log("\(controls)")
        #expect(object["msg"] == controls)
        #expect(!line.unicodeScalars.contains { $0.value < 0x20 })
    }

    @Test func nestedMetadataIsAString() throws {
        let (_, object) = try log("nested", metadata: ["hosts": ["api", "api2"], "codes": ["b": "2", "a": "1"]])
        #expect(object["hosts"] == "[api, api2]")
        #expect(object["codes"] == "[a: 1, b: 2]")
    }

    @Test func metadataCannotDuplicateFixedKeys() throws {
        let (line, object) = try log("real", metadata: ["msg": "fake", "ts": "never"])
        #expect(object["msg"] == "real")
        #expect(object["meta_msg"] == "fake")
        #expect(object["meta_ts"] == "never")
        #expect(line.components(separatedBy: "\"msg\":").count == 2, "no duplicate key")
    }
}
