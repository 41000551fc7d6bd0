import Foundation
import Logging
import ServiceSupport

/// What an operator did by hand (requeue, retry-now, abandon, pause, resume), told to the journal
/// beside the daemon's own lines (`journalctl -t closeorderd` shows both), so the history of an
/// order or a merchant reads whole. Where there is no journal, the command's printed line is all.
enum OperatorLog {
    static func notice(_ message: String, _ metadata: Logger.Metadata = [:]) {
        guard FileManager.default.fileExists(atPath: JournaldLogHandler.defaultSocketPath) else { return }
        var logger = Logger(label: "closeorderd-cli") { JournaldLogHandler(label: $0) }
        logger.logLevel = .notice
        logger.notice("operator: \(message)", metadata: metadata.merging(["operator_uid": "\(getuid())"]) { $1 })
    }
}
