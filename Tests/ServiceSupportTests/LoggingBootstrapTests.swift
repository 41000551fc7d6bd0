import Logging
import Testing

@testable import ServiceSupport

@Suite("logging bootstrap")
struct LoggingBootstrapTests {
    static let stderrIdentity = LoggingBootstrap.FileIdentity(device: 64769, inode: 123_456)

    @Test func autoPicksJournalOnlyWhenStderrIsTheJournalStream() {
        let resolve = { (stream: String?, socketExists: Bool) in
            LoggingBootstrap.resolve(
                .auto, journalStream: stream, standardError: Self.stderrIdentity, journalSocketExists: socketExists)
        }
        #expect(resolve("64769:123456", true) == .journal)
        #expect(resolve("64769:123456", false) == .logfmt, "no socket to send to")
        #expect(resolve("64769:999", true) == .logfmt, "stderr redirected after systemd set it up")
        #expect(resolve(nil, true) == .logfmt)
        #expect(resolve("garbage", true) == .logfmt)
        #expect(resolve("64769:123456:1", true) == .logfmt)
    }

    @Test(arguments: [LogFormat.logfmt, .json, .journal])
    func explicitFormatsAreKept(format: LogFormat) {
        #expect(LoggingBootstrap.resolve(format, journalStream: nil, standardError: nil, journalSocketExists: false) == format)
    }

    @Test func factoryUsesRealStderrIdentityAndSocket() throws {
        let socket = try TemporaryDatagramSocket()
        let identity = try #require(LoggingBootstrap.fileIdentity(of: 2))
        let stream = "\(identity.device):\(identity.inode)"

        let journal = LoggingBootstrap.handlerFactory(
            format: .auto, level: .debug, environment: ["JOURNAL_STREAM": stream], journalSocketPath: socket.path
        )("closeorderd")
        let journald = try #require(journal as? JournaldLogHandler)
        #expect(journald.socketPath == socket.path)
        #expect(journald.label == "closeorderd")
        #expect(journal.logLevel == .debug)

        let inherited = LoggingBootstrap.handlerFactory(
            format: .auto, level: .info, environment: ["JOURNAL_STREAM": "0:0"], journalSocketPath: socket.path
        )("closeorderd")
        #expect(inherited is LogfmtLogHandler)

        let noSocket = LoggingBootstrap.handlerFactory(
            format: .auto, level: .info, environment: ["JOURNAL_STREAM": stream], journalSocketPath: socket.directory! + "/absent"
        )("closeorderd")
        #expect(noSocket is LogfmtLogHandler)
    }

    @Test func factoryBuildsRequestedFormatAtLevel() {
        let json = LoggingBootstrap.handlerFactory(format: .json, level: .warning, environment: [:])("x")
        #expect(json is JSONLogHandler)
        #expect(json.logLevel == .warning)
        let logfmt = LoggingBootstrap.handlerFactory(format: .logfmt, level: .trace, environment: [:])("x")
        #expect(logfmt is LogfmtLogHandler)
        #expect(logfmt.logLevel == .trace)
    }

    @Test func socketExistsIsTrueOnlyForSockets() throws {
        let socket = try TemporaryDatagramSocket()
        #expect(LoggingBootstrap.socketExists(at: socket.path))
        #expect(!LoggingBootstrap.socketExists(at: socket.directory!))
        #expect(!LoggingBootstrap.socketExists(at: socket.directory! + "/absent"))
    }
}
