import BenchSupport
import Foundation
import PostgresNIO
#if canImport(Glibc)
import Glibc
#endif

/// The PostgreSQL server of issue 15's benchmarks: `initdb` in the run's work folder and one
/// `postgres` on 127.0.0.1 at a free port, every daemon and the merchant's inserter connecting
/// over TCP loopback as if from other hosts. Started the way the tests' `PostgresTestCluster`
/// starts its own (as the user `postgres` through `setpriv` when root, since PostgreSQL refuses
/// to run as root), but with PostgreSQL's **own defaults** for durability and memory (fsync on,
/// `synchronous_commit = on`, `shared_buffers = 128MB`): the tests turn fsync off, a merchant
/// does not.
///
/// Its CPU is the whole cluster's: the server is started inside a cgroup v1 `cpuacct` group of its
/// own, so the postmaster, its auxiliary processes (WAL writer, checkpointer, autovacuum) and every
/// backend forked later, exited ones included, count (nanoseconds). Without root or a cpuacct
/// hierarchy it falls back to /proc: the postmaster's own and reaped children's times plus the
/// live children's (10 ms ticks).
final class PostgresBenchCluster: @unchecked Sendable {
    static let user = "postgres"

    let directory: String
    let port: Int
    let bin: String
    let settings: [String]
    private let runAs: [String]
    private let cgroup: String?
    private let server = Process()
    private var stopped = false

    /// The binaries: `$CLOSEORDERD_PG_BIN`, else the newest /usr/lib/postgresql/*/bin.
    static func binDirectory() -> String? {
        let manager = FileManager.default
        if let configured = ProcessInfo.processInfo.environment["CLOSEORDERD_PG_BIN"], !configured.isEmpty {
            return manager.isExecutableFile(atPath: configured + "/postgres") ? configured : nil
        }
        let versions = (try? manager.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
        return versions.compactMap(Int.init).sorted().reversed().map { "/usr/lib/postgresql/\($0)/bin" }
            .first { manager.isExecutableFile(atPath: $0 + "/initdb") && manager.isExecutableFile(atPath: $0 + "/postgres") }
    }

    /// `settings`: extra `name=value` server settings (`-c`), e.g. `synchronous_commit=off` to
    /// measure what that opt-in would give; none by default (PostgreSQL's own defaults).
    init(directory: String, settings: [String] = []) throws {
        self.settings = settings
        guard let bin = Self.binDirectory() else {
            throw BenchError("PostgreSQL server binaries (initdb, postgres) not found in $CLOSEORDERD_PG_BIN or /usr/lib/postgresql/*/bin (Debian: apt-get install postgresql)")
        }
        self.bin = bin
        self.directory = directory
        try? FileManager.default.removeItem(atPath: directory)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        if geteuid() == 0 {
            guard let account = getpwnam(Self.user) else { throw BenchError("running as root, PostgreSQL runs as the user postgres, which does not exist") }
            // The user postgres must reach the folder: every parent needs o+x (a TMPDIR under /root does not).
            guard chown(directory, account.pointee.pw_uid, account.pointee.pw_gid) == 0 else { throw BenchError("cannot give \(directory) to postgres") }
            runAs = ["/usr/bin/setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"]
        } else {
            runAs = []
        }
        port = try Self.freePort()
        let group = CPUAccount.root + "/closeorderd-pg-bench-pg-\(getpid())"
        cgroup = mkdir(group, 0o755) == 0 ? group : nil
        try Self.run(runAs + [bin + "/initdb", "-D", directory + "/data", "-U", Self.user, "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"],
                     directory: directory, what: "initdb")
        try start()
    }

    /// The daemons' `database.url` for one database of this cluster (trust: no password).
    func url(_ database: String) -> String { "postgresql://\(Self.user)@127.0.0.1:\(port)/\(database)?sslmode=disable" }
    var postmasterPID: Int32 { server.processIdentifier }

    private func start() throws {
        let logPath = directory + "/server.log"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        if geteuid() == 0, let account = getpwnam(Self.user) { _ = chown(logPath, account.pointee.pw_uid, account.pointee.pw_gid) }
        let postgres = runAs + [bin + "/postgres", "-D", directory + "/data", "-p", String(port), "-k", directory,
                                "-c", "listen_addresses=127.0.0.1", "-c", "max_connections=100"] + settings.flatMap { ["-c", $0] }
        // The shell joins the cgroup, then becomes the server: everything it forks stays in it.
        let quoted = postgres.map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
        server.executableURL = URL(fileURLWithPath: "/bin/sh")
        server.arguments = ["-c", (cgroup.map { "echo $$ > '\($0)/cgroup.procs' && " } ?? "") + "exec " + quoted]
        server.standardOutput = FileHandle.nullDevice
        server.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        try server.run()
        let deadline = monotonic() + 60
        while monotonic() < deadline {
            if (try? Self.run([bin + "/pg_isready", "-q", "-h", "127.0.0.1", "-p", String(port), "-t", "5"], directory: directory, what: "pg_isready")) != nil { return }
            guard server.isRunning else { break }
            usleep(50_000)
        }
        throw BenchError("PostgreSQL did not start on 127.0.0.1:\(port); its log: \((try? String(contentsOfFile: logPath, encoding: .utf8))?.suffix(2000) ?? "")")
    }

    /// The cluster's CPU seconds so far (see the type's comment for how).
    var cpuSeconds: Double {
        if let cgroup {
            let text = (try? String(contentsOfFile: cgroup + "/cpuacct.usage", encoding: .utf8)) ?? "0"
            return (Double(text.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0) / 1e9
        }
        let pid = postmasterPID
        var total = Proc.processCPU(pid: pid, includingReapedChildren: true)
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        for entry in entries {
            guard let child = Int32(entry), Proc.parent(of: child) == pid else { continue }
            total += Proc.processCPU(pid: child, includingReapedChildren: true)
        }
        return total
    }

    var cpuSource: String {
        cgroup != nil ? "its own cpuacct cgroup (ns; postmaster, auxiliary processes and every backend, exited ones included)"
            : "/proc (postmaster + children, reaped ones included; 10 ms ticks)"
    }

    /// Fast shutdown, then the folder and the cgroup go.
    func stop() {
        guard !stopped else { return }
        stopped = true
        if server.isRunning {
            kill(server.processIdentifier, SIGINT)
            let deadline = monotonic() + 60
            while server.isRunning, monotonic() < deadline { usleep(20_000) }
            if server.isRunning { kill(server.processIdentifier, SIGQUIT); server.waitUntilExit() }
        }
        if let cgroup { rmdir(cgroup) }
        try? FileManager.default.removeItem(atPath: directory)
    }

    deinit { stop() }

    // MARK: Connections (the driver's own reads and writes)

    func connect(_ database: String) async throws -> PostgresConnection {
        var logger = Logger(label: "bench.postgres")
        logger.logLevel = .error
        let configuration = PostgresConnection.Configuration(host: "127.0.0.1", port: port, username: Self.user, password: nil,
                                                             database: database, tls: .disable)
        return try await PostgresConnection.connect(configuration: configuration, id: Int.random(in: 1...1_000_000), logger: logger)
    }

    /// A fresh, empty database named `name`.
    func createDatabase(_ name: String) async throws {
        let admin = try await connect("postgres")
        defer { Task { try? await admin.close() } }
        try await admin.runSQL("CREATE DATABASE \(name)")
    }

    func dropDatabase(_ name: String) async {
        guard let admin = try? await connect("postgres") else { return }
        _ = try? await admin.runSQL("DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
        try? await admin.close()
    }

    /// Runs `sql` with psql (statements such as VACUUM that run outside a transaction).
    @discardableResult
    func psql(_ sql: String, database: String) throws -> String {
        try Self.run([bin + "/psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", String(port),
                      "-U", Self.user, "-d", database, "-c", sql], directory: directory, what: "psql")
    }

    var version: String { ((try? Self.run([bin + "/postgres", "--version"], directory: directory, what: "postgres --version")) ?? "?").trimmingCharacters(in: .whitespacesAndNewlines) }

    // MARK: Helpers

    static func freePort() throws -> Int {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) == 0 && getsockname(descriptor, $0, &length) == 0 }
        }
        guard bound else { throw BenchError("cannot find a free loopback port for PostgreSQL") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    @discardableResult
    static func run(_ command: [String], directory: String, what: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard process.terminationStatus == 0 else { throw BenchError("\(what) failed (exit \(process.terminationStatus)): \(text.suffix(2000))") }
        return text
    }
}

extension PostgresConnection {
    /// Runs SQL written by the driver itself (no values from outside).
    func runSQL(_ sql: String) async throws {
        var logger = Logger(label: "bench.postgres")
        logger.logLevel = .error
        _ = try await query(PostgresQuery(unsafeSQL: sql), logger: logger).collect()
    }

    /// The first column of the first row, as an integer (0 for NULL or no row).
    func integer(_ sql: String) async throws -> Int64 {
        var logger = Logger(label: "bench.postgres")
        logger.logLevel = .error
        for try await value in try await query(PostgresQuery(unsafeSQL: sql), logger: logger).decode(Int64?.self) { return value ?? 0 }
        return 0
    }
}
