import Foundation

/// `database.url`, read: where the PostgreSQL server is and how to trust it. Never a password
/// (that comes from a file or a systemd credential, so it is in no config, argv or log).
///
/// `postgresql://USER@HOST:PORT/DATABASE?sslmode=MODE&sslrootcert=CA_FILE`, or with
/// `host=/run/postgresql` for a unix socket folder (then no TLS: the socket is local).
///
/// | sslmode      | TLS        | certificate checked against      | host name checked | allowed for                  |
/// |--------------|------------|----------------------------------|-------------------|------------------------------|
/// | verify-full  | 1.2 or newer | `sslrootcert`, else system roots | yes             | any host                     |
/// | verify-ca    | 1.2 or newer | `sslrootcert`, else system roots | no              | any host                     |
/// | require      | 1.2 or newer | nothing (encryption only; warned) | no             | any host                     |
/// | disable      | none       | -                                | -                 | loopback, a unix socket, or any host with `allow_plaintext=true` |
///
/// There is no default: a URL without `sslmode` is refused, so a daemon never sends its queue in
/// clear text over a network by accident (libpq's default, `prefer`, would); plain text to
/// another host must be asked for by name.
public struct PostgresURL: Sendable, Hashable {
    public enum SSLMode: String, Sendable, Hashable, CaseIterable {
        case disable, require
        case verifyCA = "verify-ca"
        case verifyFull = "verify-full"
    }

    public var user: String
    /// A host name or address, for TCP.
    public var host: String?
    public var port: Int
    /// A folder holding the server's socket (`.s.PGSQL.PORT`), instead of TCP.
    public var socketDirectory: String?
    public var database: String
    public var sslMode: SSLMode
    public var sslRootCert: String?
    /// `allow_plaintext=true`: the operator accepts `sslmode=disable` to a host that is not this one.
    public var allowPlaintext: Bool

    public init(
        user: String, host: String?, port: Int = 5432, socketDirectory: String? = nil, database: String,
        sslMode: SSLMode, sslRootCert: String? = nil, allowPlaintext: Bool = false
    ) {
        self.allowPlaintext = allowPlaintext
        self.user = user
        self.host = host
        self.port = port
        self.socketDirectory = socketDirectory
        self.database = database
        self.sslMode = sslMode
        self.sslRootCert = sslRootCert
    }

    /// The socket file of a unix-socket URL.
    public var socketPath: String? { socketDirectory.map { "\($0)/.s.PGSQL.\(port)" } }

    /// The URL with nothing secret in it (there is nothing secret in it): for logs and `status`.
    public var display: String {
        let place = socketDirectory.map { "?host=\($0)&port=\(port)" } ?? ""
        let hostPart = host.map { "\($0.contains(":") ? "[\($0)]" : $0):\(port)" } ?? ""
        let query =
            socketDirectory == nil ? "?sslmode=\(sslMode.rawValue)\(allowPlaintext ? "&allow_plaintext=true" : "")" : place
        return "postgresql://\(user)@\(hostPart)/\(database)\(query)"
    }

    /// Parses `text`; every refusal names what was wrong and what to write instead.
    public init(parsing text: String) throws(PostgresURLError) {
        guard text.hasPrefix("postgresql://") || text.hasPrefix("postgres://") else {
            throw PostgresURLError("database.url must start with postgresql://, got \(Self.redacted(text))")
        }
        guard let components = URLComponents(string: text) else {
            throw PostgresURLError("database.url is not a valid URL: \(Self.redacted(text))")
        }
        if components.password != nil {
            throw PostgresURLError(
                "database.url must not hold a password; name a file with database.password_file, or pass it as the systemd credential db-password (LoadCredential=)"
            )
        }
        guard let user = components.user, !user.isEmpty else {
            throw PostgresURLError("database.url needs a user: postgresql://USER@HOST:PORT/DATABASE?sslmode=verify-full")
        }
        let database = String(components.path.drop { $0 == "/" })
        guard !database.isEmpty, !database.contains("/") else {
            throw PostgresURLError(
                "database.url needs a database name after the host: postgresql://\(user)@HOST:PORT/DATABASE?sslmode=verify-full")
        }
        var query: [String: String] = [:]
        for item in components.queryItems ?? [] {
            guard let value = item.value, !value.isEmpty else {
                throw PostgresURLError("database.url parameter \(item.name) has no value")
            }
            guard query.updateValue(value, forKey: item.name) == nil else {
                throw PostgresURLError("database.url names \(item.name) twice")
            }
        }
        let known: Set<String> = ["sslmode", "sslrootcert", "host", "port", "allow_plaintext"]
        if let unknown = query.keys.sorted().first(where: { !known.contains($0) }) {
            throw PostgresURLError(
                "database.url parameter \(unknown) is not supported (known: \(known.sorted().joined(separator: ", ")))")
        }
        var port = components.port ?? 5432
        if let text = query["port"] {
            guard let value = Int(text) else { throw PostgresURLError("database.url port must be a number, got \(text)") }
            port = value
        }
        guard (1...65535).contains(port) else { throw PostgresURLError("database.url port must be 1-65535, got \(port)") }
        let socketDirectory = query["host"]
        if let socketDirectory, !socketDirectory.hasPrefix("/") {
            throw PostgresURLError(
                "database.url host= must be the absolute path of the server's socket folder, got \(socketDirectory)")
        }
        let host = components.host.flatMap { $0.isEmpty ? nil : $0 }
        guard (host == nil) != (socketDirectory == nil) else {
            throw PostgresURLError(
                host == nil
                    ? "database.url needs a host (postgresql://USER@HOST:PORT/DATABASE) or a socket folder (?host=/run/postgresql)"
                    : "database.url names both a host and a socket folder (host=); keep one")
        }
        let mode: SSLMode
        if socketDirectory != nil {
            guard query["sslmode"] == nil || query["sslmode"] == "disable" else {
                throw PostgresURLError("database.url: a unix socket carries no TLS; drop sslmode or write sslmode=disable")
            }
            mode = .disable
        } else {
            guard let text = query["sslmode"] else {
                throw PostgresURLError(
                    "database.url needs sslmode: verify-full (with sslrootcert=CA_FILE) for a server over the network, or disable for one on this host"
                )
            }
            guard let parsed = SSLMode(rawValue: text) else {
                throw PostgresURLError(
                    "database.url sslmode must be one of \(SSLMode.allCases.map(\.rawValue).joined(separator: ", ")), got \(text)"
                )
            }
            mode = parsed
        }
        if query["sslrootcert"] != nil, mode == .disable || mode == .require {
            throw PostgresURLError("database.url sslrootcert is only read with sslmode=verify-ca or verify-full")
        }
        let allowPlaintext: Bool
        switch query["allow_plaintext"] {
        case nil, "false": allowPlaintext = false
        case "true": allowPlaintext = true
        case let other?: throw PostgresURLError("database.url allow_plaintext must be true or false, got \(other)")
        }
        if mode == .disable, let host, !Self.isLoopback(host), !allowPlaintext {
            throw PostgresURLError(
                "database.url: sslmode=disable would send the queue and the password in clear text to \(host), "
                    + "which is not this machine; use sslmode=verify-full (with sslrootcert=CA_FILE), or, on a network you trust, "
                    + "say so with allow_plaintext=true")
        }
        self.init(
            user: user, host: host, port: port, socketDirectory: socketDirectory, database: database,
            sslMode: mode, sslRootCert: query["sslrootcert"], allowPlaintext: allowPlaintext)
    }

    /// What an operator should know about a URL that is accepted.
    public var warnings: [String] {
        var found: [String] = []
        if sslMode == .require {
            found.append(
                "sslmode=require encrypts but checks no certificate: whoever can intercept the connection to "
                    + "\(host ?? "the server") can read and change the queue; use sslmode=verify-full with sslrootcert=CA_FILE")
        }
        if sslMode == .disable, allowPlaintext, let host, !Self.isLoopback(host) {
            found.append(
                "sslmode=disable with allow_plaintext=true: the queue and the password cross the network to \(host) in clear text"
            )
        }
        return found
    }

    /// `localhost`, 127.0.0.0/8 or ::1: a connection that never leaves this machine.
    public static func isLoopback(_ host: String) -> Bool {
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        if bare.lowercased() == "localhost" || bare == "::1" { return true }
        let parts = bare.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { UInt8($0) != nil }
    }

    /// The text with its user information (a user and maybe a password) hidden: everything from
    /// `//` to the last `@`, since a password may itself hold `@`, `/`, `?` or `:` and then no
    /// parser agrees where it ends. Hiding too much is harmless; showing a piece of it is not.
    static func redacted(_ text: String) -> String {
        guard let scheme = text.range(of: "://"), let at = text[scheme.upperBound...].lastIndex(of: "@") else { return text }
        return String(text[..<scheme.upperBound]) + "…" + String(text[at...])
    }
}

/// A `database.url` that cannot be used, and why.
public struct PostgresURLError: Error, Sendable, Hashable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
