import GRDB
import GRDBSQLite

/// An INSERT run the way a merchant's app in C, Go or Python runs it: text bound with its byte
/// length, so a NUL inside it is stored. (GRDB binds a Swift String as a C string, which would
/// stop at the NUL and hide the defect.)
struct MerchantStatement {
    struct Failure: Error, CustomStringConvertible {
        let code: Int32
        let message: String
        var description: String { "SQLite error \(code): \(message)" }
    }

    let sql: String

    /// Runs `sql` with every `?` bound to the matching text, each with its full UTF-8 byte length.
    func execute(_ db: Database, texts: [String]) throws {
        guard let connection = db.sqliteConnection else { throw Failure(code: SQLITE_MISUSE, message: "closed connection") }
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(connection, sql, -1, &statement, nil) == SQLITE_OK else {
            throw Failure(code: sqlite3_errcode(connection), message: String(cString: sqlite3_errmsg(connection)))
        }
        defer { sqlite3_finalize(statement) }
        let transient = unsafeBitCast(OpaquePointer(bitPattern: -1), to: sqlite3_destructor_type.self)
        for (index, text) in texts.enumerated() {
            let bytes = Array(text.utf8)
            let code = bytes.withUnsafeBufferPointer { buffer in
                buffer.withMemoryRebound(to: CChar.self) { chars in
                    sqlite3_bind_text(statement, Int32(index + 1), chars.baseAddress, Int32(bytes.count), transient)
                }
            }
            guard code == SQLITE_OK else { throw Failure(code: code, message: String(cString: sqlite3_errmsg(connection))) }
        }
        let step = sqlite3_step(statement)
        guard step == SQLITE_DONE else {
            throw Failure(code: step, message: String(cString: sqlite3_errmsg(connection)))
        }
    }
}
