import Foundation
import Logging
import PostgresOrderStore

/// `database.url` and where its password lives: the PostgreSQL store instead of SQLite.
///
/// | key                            | meaning                                                   |
/// |--------------------------------|-----------------------------------------------------------|
/// | database.url                   | postgresql://USER@HOST:PORT/DB?sslmode=…&sslrootcert=…    |
/// | database.password_file         | absolute path of a file holding the password (one line)   |
/// | database.password_credential   | a credential name (`CredentialFiles`: keys_FILE is keys/FILE beside the config) |
///
/// The password file and `sslrootcert` are checked as key files are (`FilePermissions`): one that
/// others may write is refused.
///
/// The password is never in the URL, the config, the environment or argv, and never in a message;
/// neither key is needed for a server that trusts the connection (peer or certificate auth).
struct PostgresDatabaseConfig: Sendable, Hashable {
    enum PasswordSource: Sendable, Hashable, CustomStringConvertible {
        case file(String)
        case credential(String)

        var description: String {
            switch self {
            case .file(let path): "password_file \(path)"
            case .credential(let name): "password_credential \(name)"
            }
        }
    }

    static let keys: Set<String> = ["database.url", "database.password_file", "database.password_credential"]

    var url: PostgresURL
    var password: PasswordSource?
    /// Where `password_credential` is read from; set by `ConfigLoader`.
    var credentials = CredentialFiles(configPath: nil, environment: [:])

    /// Reads the keys; nil when `database.url` is not set (SQLite). Problems name the key.
    static func read(_ r: inout SettingsReader, pathGiven: Bool) -> PostgresDatabaseConfig? {
        let file = r.string("database.password_file").flatMap { $0.isEmpty ? nil : $0 }
        let credential = r.string("database.password_credential").flatMap { $0.isEmpty ? nil : $0 }
        guard let text = r.string("database.url").flatMap({ $0.isEmpty ? nil : $0 }) else {
            if file != nil || credential != nil {
                r.problems.append(
                    "database.password_file/password_credential: only used with database.url (PostgreSQL); SQLite has no password"
                )
            }
            return nil
        }
        if pathGiven {
            r.problems.append("database: set database.path (SQLite) or database.url (PostgreSQL), not both")
        }
        var source: PasswordSource?
        switch (file, credential) {
        case (let file?, nil):
            if !file.hasPrefix("/") { r.problems.append("database.password_file: must be an absolute path") }
            source = .file(file)
        case (nil, let name?):
            if name.contains("/") { r.problems.append("database.password_credential: a credential name has no '/'") }
            source = .credential(name)
        case (.some, .some):
            r.problems.append("database: set password_file or password_credential, not both")
        case (nil, nil):
            source = nil
        }
        let url: PostgresURL
        do {
            url = try PostgresURL(parsing: text)
        } catch {
            r.problems.append("database.url: \(error.description)")
            return nil
        }
        if let root = url.sslRootCert, let refusal = FilePermissions.refusal(for: root, what: "CA file (sslrootcert)") {
            r.problems.append("database.url: \(refusal)")
        }
        return PostgresDatabaseConfig(url: url, password: source)
    }

    /// The password's text (one line, its newline dropped), or nil when none is configured. The
    /// error names the key and the file, never the contents.
    func readPassword() throws -> String? {
        let source: ReadableFile
        var warnings: [String] = []
        do {
            switch password {
            case nil: return nil
            case .file(let file):
                source = try ReadableFile(
                    .file(file), configKey: "database.password_file", credentialKey: "database.password_credential",
                    credentials: credentials, what: "password file", warnings: &warnings)
            case .credential(let name):
                source = try ReadableFile(
                    .credential(name), configKey: "database.password_file", credentialKey: "database.password_credential",
                    credentials: credentials, what: "password file", warnings: &warnings)
            }
        } catch {
            throw StoreErrorMessage(error.description)
        }
        let (path, key) = (source.path, source.configKey)
        let text: String
        do {
            text = try KeyFile.read(path)
        } catch {
            throw StoreErrorMessage("\(key): \(error)")
        }
        var password = Substring(text)
        while let last = password.last, last == "\n" || last == "\r" { password.removeLast() }
        guard !password.isEmpty, !password.contains("\n") else {
            throw StoreErrorMessage("\(key): \(path) must hold the password on one line")
        }
        return String(password)
    }

    /// Opens the database (not yet connected: run `database.run()` in a task or service group).
    func open(logger: Logger) throws -> PostgresQueueDatabase {
        try PostgresQueueDatabase(url: url, password: try readPassword(), logger: logger)
    }
}
