import Logging
import NIOCore
import NIOPosix
import NIOSSL
import OrderClosing
import PostgresNIO
import ServiceLifecycle

#if canImport(Glibc)
    import Glibc
#endif

/// One PostgreSQL database holding the queue: its connection pool (a `Service` the daemon runs in
/// its service group), the migrations, and the `OrderStore` on it. The rest of closeorderd sees
/// this type and `PostgresOrderStore`, never PostgresNIO's.
public final class PostgresQueueDatabase: Service, Sendable {
    public let url: PostgresURL
    let client: PostgresClient
    let logger: Logger
    /// Kept for `probe()`'s own connection; given to the server only.
    private let password: String?

    /// `password` was read from a file or a systemd credential; it is given to the server only.
    public init(url: PostgresURL, password: String?, maximumConnections: Int = 8, logger: Logger) throws {
        self.url = url
        self.logger = logger
        self.password = password
        var configuration: PostgresClient.Configuration
        if let socketPath = url.socketPath {
            configuration = .init(unixSocketPath: socketPath, username: url.user, password: password, database: url.database)
        } else {
            configuration = .init(
                host: url.host ?? "localhost", port: url.port, username: url.user, password: password,
                database: url.database, tls: try Self.tls(for: url))
        }
        configuration.options.maximumConnections = maximumConnections
        configuration.options.connectTimeout = .seconds(5)
        // The pool's own warnings (e.g. a query queued while run() is still starting) say nothing
        // the store's errors do not say better; its errors stay visible.
        var background = logger
        background.logLevel = max(logger.logLevel, .error)
        client = PostgresClient(configuration: configuration, backgroundLogger: background)
    }

    static func tls(for url: PostgresURL) throws -> PostgresClient.Configuration.TLS {
        try tlsConfiguration(for: url).map { .require($0) } ?? .disable
    }

    /// What `sslmode` and `sslrootcert` ask for; nil for `disable`.
    static func tlsConfiguration(for url: PostgresURL) throws -> TLSConfiguration? {
        var tls = TLSConfiguration.makeClientConfiguration()
        // As for WeChat Pay: nothing older than TLS 1.2 (NIOSSL's default minimum is 1.0).
        tls.minimumTLSVersion = .tlsv12
        switch url.sslMode {
        case .disable: return nil
        case .require: tls.certificateVerification = .none
        case .verifyCA: tls.certificateVerification = .noHostnameVerification
        case .verifyFull: tls.certificateVerification = .fullVerification
        }
        if let file = url.sslRootCert {
            do {
                tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(file))
            } catch {
                throw PostgresStoreError("cannot read the CA file \(file) named by sslrootcert: \(error)")
            }
        }
        return tls
    }

    /// Connects once, outside the pool, and hangs up. The pool keeps retrying a server it cannot
    /// reach for about a minute and then says only that it gave up; one connection says within
    /// `timeout` why (refused, unknown host, TLS, password), which is what a command run by hand
    /// needs. The daemon does not probe: for it an unreachable server is an outage it waits out.
    public func probe(timeout: Duration = .seconds(10)) async throws {
        var configuration: PostgresConnection.Configuration
        if let socketPath = url.socketPath {
            configuration = .init(unixSocketPath: socketPath, username: url.user, password: password, database: url.database)
        } else {
            let tls = try Self.tlsConfiguration(for: url).map {
                PostgresConnection.Configuration.TLS.require(try NIOSSLContext(configuration: $0))
            }
            configuration = .init(
                host: url.host ?? "localhost", port: url.port, username: url.user, password: password,
                database: url.database, tls: tls ?? .disable)
        }
        configuration.options.connectTimeout = .seconds(Int64(timeout.components.seconds))
        do {
            let connection = try await PostgresConnection.connect(configuration: configuration, id: 0, logger: logger)
            try await connection.close()
        } catch {
            let reason =
                Self.tlsProblem(error, url: url) ?? Self.connectionProblem(error, url: url) ?? PostgresStoreError.reason(error)
            throw PostgresStoreError("cannot connect to the PostgreSQL database \(url.display): \(reason)")
        }
    }

    /// A refused certificate in words: NIOSSL names only BoringSSL's error code, or "<none>" for
    /// the host it looked for when the URL names an IP address.
    static func tlsProblem(_ error: any Error, url: PostgresURL) -> String? {
        let underlying = (error as? PSQLError)?.underlying ?? error
        if let extra = underlying as? NIOSSLExtraError, extra == .failedToValidateHostname {
            return
                "TLS: the server's certificate does not name the host \(url.host ?? "localhost") (sslmode=verify-full checks the name; "
                + "connect by a name the certificate holds, or use sslmode=verify-ca)"
        }
        if let ssl = underlying as? NIOSSLError, case .handshakeFailed(let inner) = ssl,
            "\(inner)".contains("CERTIFICATE_VERIFY_FAILED")
        {
            let roots = url.sslRootCert.map { "sslrootcert (\($0))" } ?? "the system's trusted roots (no sslrootcert given)"
            return "TLS: the server's certificate is not signed by a CA in \(roots), or has expired [CERTIFICATE_VERIFY_FAILED]"
        }
        return nil
    }

    /// A failed connection in words, the library's text after them: "connection refused" leads
    /// instead of "connection reset (error set): Connection refused (errno 111)".
    public static func connectionProblem(_ error: any Error, url: PostgresURL) -> String? {
        let underlying = (error as? PSQLError)?.underlying ?? error
        let place = url.socketPath ?? "\(url.host ?? "localhost"):\(url.port)"
        let text = "\(underlying)"
        if let io = underlying as? IOError {
            switch io.errnoCode {
            case ECONNREFUSED:
                return "connection refused: nothing listens on \(place) (is PostgreSQL running there, and is the port right?)"
            case ENOENT where url.socketPath != nil: return "no PostgreSQL socket at \(place) (is PostgreSQL running?)"
            case ETIMEDOUT: return "no answer from \(place) (timed out)"
            case EHOSTUNREACH, ENETUNREACH: return "\(place) is unreachable (no route)"
            default: break
            }
        }
        if text.contains("Connection refused") || text.contains("errno 111") {
            return "connection refused: nothing listens on \(place) (is PostgreSQL running there, and is the port right?)"
        }
        if let channel = underlying as? ChannelError, case .connectTimeout = channel {
            return "no answer from \(place) within the connect timeout"
        }
        if text.contains("NIOConnectionError") || text.contains("resolution") {
            return "cannot connect to \(place): \(text)"
        }
        return nil
    }

    /// Runs the connection pool until cancelled (the service group's shutdown).
    public func run() async throws {
        await client.run()
    }

    /// The store on this database; see `PostgresStoreClock` for `clock`.
    public func store(due: DuePolicy = .standard, clock: PostgresStoreClock = .database) -> PostgresOrderStore {
        PostgresOrderStore(client: client, due: due, clock: clock, logger: logger)
    }

    /// Applies missing migrations under the advisory lock; returns the versions applied now.
    @discardableResult
    public func migrate(upTo target: Int = PostgresMigrations.latestVersion) async throws -> [Int] {
        try await connection { connection in try await PostgresMigrations.migrate(connection, logger: logger, upTo: target) }
    }

    /// The ledger's version (0 for an empty database).
    public func schemaVersion() async throws -> Int {
        try await connection { connection in try await PostgresMigrations.currentVersion(connection, logger: logger) }
    }

    /// Throws unless `migrate` has brought the database to this closeorderd's version.
    public func requireCurrentSchema() async throws {
        try await connection { connection in try await PostgresMigrations.requireCurrent(connection, logger: logger) }
    }

    func connection<Result: Sendable>(_ body: (PostgresConnection) async throws -> Result) async throws -> Result {
        do {
            return try await client.withConnection { connection in try await body(connection) }
        } catch let error as PostgresStoreError {
            throw error
        } catch {
            throw PostgresStoreError("cannot use the PostgreSQL database \(url.display): \(PostgresStoreError.reason(error))")
        }
    }
}
