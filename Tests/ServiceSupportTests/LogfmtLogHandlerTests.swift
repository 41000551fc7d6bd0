import Logging
import Testing

@testable import ServiceSupport

@Suite("logfmt handler")
struct LogfmtLogHandlerTests {
    static let fixedTime = "2026-11-29T01:02:03.456Z"

    private func makeLogger(
        metadataProvider: Logger.MetadataProvider? = nil
    ) -> (Logger, LineCollector) {
        let collector = LineCollector()
        let handler = LogfmtLogHandler(
            label: "closeorderd.worker",
            metadataProvider: metadataProvider,
            write: collector.append,
            timestamp: { Self.fixedTime }
        )
        var logger = Logger(label: "closeorderd.worker") { _ in handler }
        logger.logLevel = .trace
        return (logger, collector)
    }

    @Test func writesFixedKeysThenSortedMetadata() {
        let (logger, collector) = makeLogger()
        logger.info(
            "close attempt",
            metadata: ["out_trade_no": "T1", "mch_id": "1900000109", "attempt": "1", "outcome": "closed"]
        )
        #expect(
            collector.lines == [
                "ts=2026-11-29T01:02:03.456Z level=info msg=\"close attempt\" attempt=1 mch_id=1900000109 out_trade_no=T1 outcome=closed"
            ])
    }

    @Test func singleWordMessageIsBare() {
        let (logger, collector) = makeLogger()
        logger.warning("throttled")
        #expect(collector.lines == ["ts=2026-11-29T01:02:03.456Z level=warning msg=throttled"])
    }

    @Test(arguments: [
        ("T1", "T1"),
        ("", "\"\""),
        ("close attempt", "\"close attempt\""),
        ("a=b", "\"a=b\""),
        ("say \"hi\"", "\"say \\\"hi\\\"\""),
        ("line1\nline2", "\"line1\\nline2\""),
        ("cr\rlf", "\"cr\\rlf\""),
        ("tab\there", "\"tab\\there\""),
        ("C:\\dir", "C:\\dir"),
        ("C:\\my dir", "\"C:\\\\my dir\""),
        ("\u{1B}[31m", "\"\\u001b[31m\""),
        ("line\u{2028}sep", "\"line\\u2028sep\""),
        ("订单已关闭", "订单已关闭"),
        ("订单 已关闭", "\"订单 已关闭\""),
        ("订单\u{3000}已关闭", "\"订单\u{3000}已关闭\""),
        ("next\u{85}line", "\"next\\u0085line\""),
    ])
    func quotesAndEscapesValues(input: String, expected: String) {
        #expect(LogfmtLogHandler.encodeValue(input) == expected)
    }

    @Test func keysCannotBreakTheLine() {
        #expect(LogfmtLogHandler.encodeKey("out_trade_no") == "out_trade_no")
        #expect(LogfmtLogHandler.encodeKey("a b=c\"d\ne") == "a_b_c_d_e")
        #expect(LogfmtLogHandler.encodeKey("") == "_")
    }

    @Test func metadataCannotOverwriteFixedKeys() {
        let (logger, collector) = makeLogger()
        logger.error("real", metadata: ["msg": "fake", "level": "debug"])
        #expect(
            collector.lines == [
                "ts=2026-11-29T01:02:03.456Z level=error msg=real meta_level=debug meta_msg=fake"
            ])
    }

    @Test func callMetadataWinsOverProviderWhichWinsOverHandler() {
        let provider = Logger.MetadataProvider { ["source": "provider", "request": "provider"] }
        var (logger, collector) = makeLogger(metadataProvider: provider)
        logger[metadataKey: "source"] = "handler"
        logger[metadataKey: "request"] = "handler"
        logger[metadataKey: "worker"] = "handler"
        logger.notice("merged", metadata: ["source": "call"])
        #expect(
            collector.lines == [
                "ts=2026-11-29T01:02:03.456Z level=notice msg=merged request=provider source=call worker=handler"
            ])
    }

    @Test func nestedMetadataIsStringifiedDeterministically() {
        let (logger, collector) = makeLogger()
        logger.debug("nested", metadata: ["hosts": ["api", "api2"], "codes": ["b": "2", "a": "1"]])
        #expect(
            collector.lines == [
                "ts=2026-11-29T01:02:03.456Z level=debug msg=nested codes=\"[a: 1, b: 2]\" hosts=\"[api, api2]\""
            ])
    }

    @Test func eventErrorBecomesAField() {
        struct GatewayDown: Error {}
        let collector = LineCollector()
        let handler = LogfmtLogHandler(
            label: "t", metadataProvider: nil, write: collector.append, timestamp: { Self.fixedTime }
        )
        handler.log(
            event: LogEvent(
                level: .error, message: "gateway failed", error: GatewayDown(), metadata: nil,
                source: nil, file: #fileID, function: #function, line: #line
            ))
        #expect(
            collector.lines == [
                "ts=2026-11-29T01:02:03.456Z level=error msg=\"gateway failed\" error=GatewayDown()"
            ])
    }

    @Test func timestampsAreRFC3339UTCWithMilliseconds() {
        // 2026-11-29T01:02:03Z
        #expect(LogTimestamp.format(seconds: 1_795_914_123, milliseconds: 456) == "2026-11-29T01:02:03.456Z")
        #expect(LogTimestamp.format(seconds: 0, milliseconds: 7) == "1970-01-01T00:00:00.007Z")
        let now = LogTimestamp.now()
        #expect(now.count == 24 && now.hasSuffix("Z"))
    }
}
