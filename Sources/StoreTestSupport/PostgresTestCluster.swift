import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A throw-away PostgreSQL server for the tests: `initdb` in a fresh temporary folder, `postgres`
/// on 127.0.0.1 at a free port and on a unix socket in that folder, no fsync (a crash of the test
/// machine loses nothing worth keeping). One per test process (`shared()`); each test takes a
/// fresh database from it (`createDatabase()`).
///
/// Cleanup: an `atexit` handler stops the server and deletes the folder when the test process
/// ends normally; a watcher (`sh`, as root or as the test user) does the same when the test
/// process dies any other way (SIGKILL, a crash), so no server outlives the run.
///
/// PostgreSQL refuses to run as root, and CI runs as root: then initdb and postgres run as the
/// unprivileged user `postgres` (Debian's package creates it) through `setpriv`, and the folder
/// belongs to that user.
///
/// The binaries: `$CLOSEORDERD_PG_BIN`, else the newest /usr/lib/postgresql/*/bin. When they are
/// missing, the tests that need them are skipped with `missingMessage`, unless `CI` is set: then
/// they fail with it, so CI never passes without having run them.
public final class PostgresTestCluster: @unchecked Sendable {
    public static let missingMessage = """
        PostgreSQL server binaries (initdb, postgres) not found in $CLOSEORDERD_PG_BIN or /usr/lib/postgresql/*/bin: \
        install them (Debian: apt-get install postgresql) to run the PostgreSQL tests
        """

    /// The folder holding initdb and postgres, if any.
    public static let binDirectory: String? = {
        let manager = FileManager.default
        if let configured = ProcessInfo.processInfo.environment["CLOSEORDERD_PG_BIN"] {
            return manager.isExecutableFile(atPath: configured + "/postgres") ? configured : nil
        }
        let versions = (try? manager.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
        return versions.compactMap(Int.init).sorted().reversed().map { "/usr/lib/postgresql/\($0)/bin" }
            .first { manager.isExecutableFile(atPath: $0 + "/initdb") && manager.isExecutableFile(atPath: $0 + "/postgres") }
    }()

    public static var isAvailable: Bool { binDirectory != nil }
    /// Set on CI (`.ci/run` exports CI=1): a missing PostgreSQL is then a failure, not a skip.
    public static var isRequired: Bool { ProcessInfo.processInfo.environment["CI"].map { !$0.isEmpty && $0 != "0" } ?? false }
    /// Whether the PostgreSQL tests run (and fail with `missingMessage` if they cannot).
    public static var shouldRun: Bool { isAvailable || isRequired }

    public let directory: String
    public let port: Int
    /// The folder of the unix socket (`.s.PGSQL.<port>`).
    public var socketDirectory: String { directory }
    public let user = "postgres"
    let bin: String
    let runAs: [String]
    /// The server's user when this process is root (uid, gid), else nil.
    let serverAccount: (uid: uid_t, gid: gid_t)?
    private let reservation: PortReservation
    private let lock = NSLock()
    private var server: Process?
    private var stopped = false
    private var databases = 0

    private static let sharedLock = NSLock()
    nonisolated(unsafe) private static var sharedCluster: PostgresTestCluster?
    nonisolated(unsafe) private static var sharedError: (any Error)?

    /// Runs blocking work (a child process, a lock held while one runs) on a dispatch thread, so
    /// it does not take one of Swift's cooperative threads (2 here) from the tests' async code.
    public static func offPool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(with: Result { try work() }) }
        }
    }

    /// The process's cluster, started on first use.
    public static func shared() throws -> PostgresTestCluster {
        try sharedLock.withLock {
            if let sharedCluster { return sharedCluster }
            if let sharedError { throw sharedError }
            do {
                let cluster = try PostgresTestCluster()
                sharedCluster = cluster
                atexit { PostgresTestCluster.sharedCluster?.stop() }
                return cluster
            } catch {
                sharedError = error
                throw error
            }
        }
    }

    /// A certificate for the server to present (`ssl=on`), as PEM files; copied into the cluster's
    /// folder, where the server's user can read them.
    public struct ServerCertificate: Sendable {
        public let certificatePath: String
        public let keyPath: String

        public init(certificatePath: String, keyPath: String) {
            self.certificatePath = certificatePath
            self.keyPath = keyPath
        }
    }

    /// The `-c` settings that turn TLS on, if the cluster was given a certificate.
    private var tlsSettings: [String] = []

    /// Starts a new cluster (tests that restart or kill the server, or need TLS, take their own).
    /// With `serverCertificate`, the server offers TLS (`ssl=on`) and still accepts plain connections.
    public init(serverCertificate: ServerCertificate? = nil) throws {
        guard let bin = Self.binDirectory else { throw ClusterError(Self.missingMessage) }
        self.bin = bin
        // As root the folder goes under /tmp, which the user postgres can reach whatever $TMPDIR is.
        let base = geteuid() == 0 ? URL(fileURLWithPath: "/tmp") : FileManager.default.temporaryDirectory
        directory = base.appendingPathComponent("closeorderd-pg-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        if geteuid() == 0 {
            guard let account = getpwnam("postgres") else {
                throw ClusterError(
                    "running as root, the tests start PostgreSQL as the user postgres, which does not exist; install Debian's postgresql package or run the tests as an ordinary user"
                )
            }
            serverAccount = (account.pointee.pw_uid, account.pointee.pw_gid)
            guard chown(directory, account.pointee.pw_uid, account.pointee.pw_gid) == 0 else {
                throw ClusterError("cannot give \(directory) to the user postgres (errno \(errno))")
            }
            runAs = ["/usr/bin/setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"]
        } else {
            serverAccount = nil
            runAs = []
        }
        reservation = try PortReservation()
        port = reservation.port
        try run(
            [bin + "/initdb", "-D", directory + "/data", "-U", user, "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"],
            what: "initdb")
        if let serverCertificate {
            // PostgreSQL refuses a key file others can read, or one it does not own.
            for (source, name) in [(serverCertificate.certificatePath, "server.crt"), (serverCertificate.keyPath, "server.key")] {
                let target = directory + "/" + name
                try FileManager.default.copyItem(atPath: source, toPath: target)
                _ = chmod(target, 0o600)
                if let serverAccount { _ = chown(target, serverAccount.uid, serverAccount.gid) }
            }
            tlsSettings = [
                "-c", "ssl=on", "-c", "ssl_cert_file=\(directory)/server.crt", "-c", "ssl_key_file=\(directory)/server.key",
            ]
        }
        try start()
        watchForParentDeath()
    }

    /// Starts (or starts again after `stop(mode:)`) the server and waits until it accepts connections.
    public func start(timeout: TimeInterval = 60) throws {
        let process = Process()
        let logPath = directory + "/server.log"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        if let serverAccount { _ = chown(logPath, serverAccount.uid, serverAccount.gid) }
        let arguments =
            [
                bin + "/postgres", "-D", directory + "/data", "-p", String(port), "-k", directory,
                "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
                "-c", "full_page_writes=off", "-c", "max_connections=200", "-c", "shared_buffers=32MB",
            ] + tlsSettings
        let command = runAs + arguments
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        process.standardOutput = FileHandle.nullDevice
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.standardError = log
        try process.run()
        lock.withLock {
            server = process
            stopped = false
        }
        // Ready when pg_isready says so; every check waits for the server's answer, with a deadline.
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if (try? run([bin + "/pg_isready", "-q", "-h", "127.0.0.1", "-p", String(port), "-t", "5"], what: "pg_isready"))
                != nil
            {
                return
            }
            guard process.isRunning else { break }
            usleep(50_000)
        }
        let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        throw ClusterError(
            "PostgreSQL did not accept connections on 127.0.0.1:\(port) within \(Int(timeout)) s; its log: \(text.suffix(2000))")
    }

    /// Stops the server: `fast` (SIGINT: transactions rolled back, clean shutdown) or `immediate`
    /// (SIGQUIT: as a crash, recovered at the next start). Keeps the folder for `start()`.
    public func stopServer(immediate: Bool = false) {
        guard let process = lock.withLock({ server }) else { return }
        kill(process.processIdentifier, immediate ? SIGQUIT : SIGINT)
        process.waitUntilExit()
    }

    /// Stops the server and deletes its folder. Idempotent.
    public func stop() {
        let process: Process? = lock.withLock {
            guard !stopped else { return nil }
            stopped = true
            return server
        }
        if let process, process.isRunning {
            kill(process.processIdentifier, SIGQUIT)
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(atPath: directory)
        reservation.release()
    }

    /// A new, empty database; its name.
    public func createDatabase() throws -> String {
        let name = lock.withLock {
            databases += 1
            return "test_\(databases)_\(UUID().uuidString.prefix(8).lowercased())"
        }
        try psql("CREATE DATABASE \(name)", database: "postgres")
        return name
    }

    public func dropDatabase(_ name: String) {
        _ = try? psql("DROP DATABASE IF EXISTS \(name) WITH (FORCE)", database: "postgres")
    }

    /// Runs `sql` with psql (as the merchant's app would, from its own client) and returns what it
    /// printed: unaligned, tuples only. `variables` are psql variables, quoted by psql where the
    /// SQL writes `:'name'`, so values are never pasted into the SQL text.
    @discardableResult
    public func psql(_ sql: String, database: String, variables: [String: String] = [:]) throws -> String {
        var arguments = [
            bin + "/psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", String(port),
            "-U", user, "-d", database,
        ]
        for (name, value) in variables.sorted(by: { $0.key < $1.key }) { arguments += ["-v", "\(name)=\(value)"] }
        return try run(arguments, what: "psql", input: sql)
    }

    /// Runs a tool (as `postgres` when root) and returns its standard output, or throws with its stderr.
    @discardableResult
    func run(_ arguments: [String], what: String, input: String? = nil) throws -> String {
        let process = Process()
        let command = arguments[0].hasSuffix("/psql") || arguments[0].hasSuffix("/pg_isready") ? arguments : runAs + arguments
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        // Input and errors go through files, output through a pipe read to its end: no pipe can
        // fill up and block the tool.
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("closeorderd-pg-io-\(UUID().uuidString)")
        let inputPath = scratch.path + ".in"
        let errorPath = scratch.path + ".err"
        defer {
            try? FileManager.default.removeItem(atPath: inputPath)
            try? FileManager.default.removeItem(atPath: errorPath)
        }
        _ = FileManager.default.createFile(atPath: inputPath, contents: Data((input ?? "").utf8))
        _ = FileManager.default.createFile(atPath: errorPath, contents: nil)
        let output = Pipe()
        process.standardOutput = output
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errorPath))
        process.standardInput = try FileHandle(forReadingFrom: URL(fileURLWithPath: inputPath))
        try process.run()
        let outputData = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let errors = (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? ""
            throw ClusterError("\(what) failed (exit \(process.terminationStatus)): \(errors)")
        }
        return String(decoding: outputData, as: UTF8.self)
    }

    /// A shell that waits for this process to end, then stops the server and deletes the folder.
    /// It reads a pipe whose writing end only this process holds: EOF comes when it dies, however.
    private func watchForParentDeath() {
        guard let pid = lock.withLock({ server?.processIdentifier }) else { return }
        let watcher = Process()
        watcher.executableURL = URL(fileURLWithPath: "/bin/sh")
        // The postmaster's pid is read when the time comes: a restarted server has a new one.
        watcher.arguments = [
            "-c",
            "cat >/dev/null; kill -QUIT $(head -1 '\(directory)/data/postmaster.pid' 2>/dev/null) \(pid) 2>/dev/null; "
                + "sleep 1; rm -rf '\(directory)'",
        ]
        let pipe = Pipe()
        watcher.standardInput = pipe
        watcher.standardOutput = FileHandle.nullDevice
        watcher.standardError = FileHandle.nullDevice
        guard (try? watcher.run()) != nil else { return }
        try? pipe.fileHandleForReading.close()
        // The writing end stays open in this process until it exits (kept alive with the cluster).
        watcherPipe = pipe
    }

    private var watcherPipe: Pipe?

    public struct ClusterError: Error, CustomStringConvertible {
        public let description: String
        public init(_ description: String) { self.description = description }
    }
}

/// A loopback port held by a bound, non-listening socket with SO_REUSEADDR, so no other program
/// takes it before PostgreSQL (which sets SO_REUSEADDR too) binds and listens on it.
final class PortReservation: @unchecked Sendable {
    let port: Int
    private let descriptor: Int32

    init() throws {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw PostgresTestCluster.ClusterError("cannot open a socket to find a free port") }
        var one: Int32 = 1
        setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, length) == 0 && getsockname(descriptor, $0, &length) == 0
            }
        }
        guard bound else {
            close(descriptor)
            throw PostgresTestCluster.ClusterError("cannot bind a free loopback port")
        }
        self.descriptor = descriptor
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    private var closed = false
    func release() {
        guard !closed else { return }
        closed = true
        close(descriptor)
    }
}
