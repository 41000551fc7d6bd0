import Logging
import Testing

@testable import ServiceSupport

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

@Suite("journald handler")
struct JournaldLogHandlerTests {
    /// Splits a native-protocol datagram back into fields, checking the framing as it goes.
    static func parse(_ bytes: [UInt8]) throws -> [(name: String, value: String)] {
        var fields: [(name: String, value: String)] = []
        var index = 0
        while index < bytes.count {
            let end = try #require(bytes[index...].firstIndex { $0 == UInt8(ascii: "=") || $0 == UInt8(ascii: "\n") })
            let name = String(decoding: bytes[index..<end], as: UTF8.self)
            if bytes[end] == UInt8(ascii: "=") {
                let newline = try #require(bytes[end...].firstIndex(of: UInt8(ascii: "\n")))
                fields.append((name, String(decoding: bytes[(end + 1)..<newline], as: UTF8.self)))
                index = newline + 1
            } else {
                let lengthStart = end + 1
                try #require(bytes.count >= lengthStart + 8)
                let length = bytes[lengthStart..<(lengthStart + 8)].reversed().reduce(0) { $0 << 8 | Int($1) }
                let valueStart = lengthStart + 8
                try #require(bytes.count > valueStart + length && bytes[valueStart + length] == UInt8(ascii: "\n"))
                fields.append((name, String(decoding: bytes[valueStart..<(valueStart + length)], as: UTF8.self)))
                index = valueStart + length + 1
            }
        }
        return fields
    }

    private func makeHandler(socketPath: String, collector: LineCollector) -> JournaldLogHandler {
        JournaldLogHandler(
            label: "closeorderd.worker", socketPath: socketPath, metadataProvider: nil,
            fallback: collector.append, timestamp: { "2026-11-29T01:02:03.456Z" }
        )
    }

    @Test func sendsExactNativeProtocolDatagram() throws {
        let socket = try TemporaryDatagramSocket()
        let collector = LineCollector()
        let handler = makeHandler(socketPath: socket.path, collector: collector)
        handler.log(
            event: LogEvent(
                level: .warning, message: "close attempt",
                metadata: ["out_trade_no": "T1", "mch_id": "1900000109", "note": "first line\nsecond line"],
                source: nil, file: "closeorderd/Worker.swift", function: "close(_:)", line: 42
            ))
        let datagram = try #require(socket.receive())

        var expected: [UInt8] = []
        for line in [
            "MESSAGE=close attempt", "PRIORITY=4", "SYSLOG_IDENTIFIER=closeorderd",
            "CLOSEORDERD_LOGGER=closeorderd.worker", "CODE_FILE=closeorderd/Worker.swift",
            "CODE_LINE=42", "CODE_FUNC=close(_:)", "MCH_ID=1900000109",
        ] {
            expected += Array(line.utf8) + [0x0A]
        }
        // Binary form: name, newline, 64-bit little-endian length (22), raw bytes, newline.
        expected += Array("NOTE\n".utf8) + [22, 0, 0, 0, 0, 0, 0, 0] + Array("first line\nsecond line\n".utf8)
        expected += Array("OUT_TRADE_NO=T1\n".utf8)

        #expect(datagram == expected)
        #expect(collector.lines.isEmpty)
    }

    @Test func loggerMetadataBecomesQueryableFields() throws {
        let socket = try TemporaryDatagramSocket()
        let collector = LineCollector()
        let handler = makeHandler(socketPath: socket.path, collector: collector)
        var logger = Logger(label: "closeorderd.worker") { _ in handler }
        logger[metadataKey: "mch_id"] = "1900000109"
        logger.error("close failed\nsee detail", metadata: ["out_trade_no": "T1", "err_code": "SYSTEMERROR"])

        let fields = try Self.parse(try #require(socket.receive()))
        #expect(
            fields.map(\.name) == [
                "MESSAGE", "PRIORITY", "SYSLOG_IDENTIFIER", "CLOSEORDERD_LOGGER", "CODE_FILE", "CODE_LINE", "CODE_FUNC",
                "ERR_CODE", "MCH_ID", "OUT_TRADE_NO",
            ])
        let values = Dictionary(uniqueKeysWithValues: fields.map { ($0.name, $0.value) })
        #expect(values["MESSAGE"] == "close failed\nsee detail")
        #expect(values["PRIORITY"] == "3")
        #expect(values["SYSLOG_IDENTIFIER"] == "closeorderd")
        #expect(values["OUT_TRADE_NO"] == "T1")
        #expect(values["MCH_ID"] == "1900000109")
        #expect(values["CODE_FILE"] == #fileID)
    }

    @Test(arguments: [
        (Logger.Level.trace, 7), (.debug, 7), (.info, 6), (.notice, 5), (.warning, 4), (.error, 3), (.critical, 2),
    ])
    func mapsLevelsToSyslogPriorities(level: Logger.Level, priority: Int) {
        #expect(JournaldLogHandler.priority(level) == priority)
    }

    @Test(arguments: [
        ("out_trade_no", "OUT_TRADE_NO"),
        ("wechat.err-code", "WECHAT_ERR_CODE"),
        ("_hidden", "HIDDEN"),
        ("__", "META"),
        ("订单", "META"),
        ("3ds", "META_3DS"),
        ("priority", "META_PRIORITY"),
        ("message", "META_MESSAGE"),
        (String(repeating: "k", count: 70), String(repeating: "K", count: 64)),
    ])
    func mapsMetadataKeysToValidFieldNames(key: String, field: String) {
        #expect(JournalDatagram.fieldName(forMetadataKey: key, reserved: JournaldLogHandler.reservedFields) == field)
    }

    @Test func oversizedEventFallsBackToLogfmtOnStderr() throws {
        let socket = try TemporaryDatagramSocket()
        let collector = LineCollector()
        let handler = makeHandler(socketPath: socket.path, collector: collector)
        // Just over the send buffer the kernel granted (the largest datagram it will accept).
        var sendBuffer: Int32 = 0
        var size = socklen_t(MemoryLayout<Int32>.size)
        try #require(getsockopt(JournaldLogHandler.sharedSocket, SOL_SOCKET, SO_SNDBUF, &sendBuffer, &size) == 0)
        let huge = String(repeating: "x", count: Int(sendBuffer) + 1024)
        handler.log(
            event: LogEvent(
                level: .info, message: "big", metadata: ["payload": "\(huge)"],
                source: nil, file: "f", function: "g", line: 1
            ))
        #expect(!socket.hasPendingDatagram())
        let line = try #require(collector.lines.first)
        #expect(line.hasPrefix("ts=2026-11-29T01:02:03.456Z level=info msg=big journal_error=\"Message too long\" payload=xxx"))
        #expect(line.utf8.count > huge.utf8.count)
    }

    @Test func missingJournalFallsBackToLogfmtOnStderr() throws {
        let collector = LineCollector()
        let handler = makeHandler(socketPath: "/nonexistent/journal/socket", collector: collector)
        var logger = Logger(label: "closeorderd") { _ in handler }
        logger.logLevel = .info
        logger.info("still logged", metadata: ["out_trade_no": "T1"])
        #expect(
            collector.lines == [
                "ts=2026-11-29T01:02:03.456Z level=info msg=\"still logged\" journal_error=\"No such file or directory\" out_trade_no=T1"
            ])
    }
}
