import Foundation
import OrderClosingTestSupport
import StoreTestSupport
import Testing

/// `sslmode=verify-full` with a CA file, against a test cluster with `ssl=on` and a certificate
/// made for this test (for `localhost`): the right CA and host connect; a wrong CA or a host the
/// certificate does not name are refused, saying why. Through the real binary (`migrate`, `status`).
@Suite(
    .serialized,
    .enabled(
        if: PostgresTestCluster.shouldRun && TestCertificates.hasOpenSSL,
        Comment(rawValue: PostgresTestCluster.missingMessage + " (and openssl)")))
struct PostgresTLSTests {
    @Test func verifyFullConnectsOnlyToTheServerItsCANamesForThatHost() async throws {
        let folder = try CLIHarness.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let certificates = try await PostgresTestCluster.offPool { try TestCertificates(in: folder) }
        let server = PostgresTestCluster.ServerCertificate(
            certificatePath: certificates.serverCertificatePath, keyPath: certificates.serverKeyPath)
        let cluster = try await PostgresTestCluster.offPool { try PostgresTestCluster(serverCertificate: server) }
        defer { cluster.stop() }
        let name = try await PostgresTestCluster.offPool { try cluster.createDatabase() }

        func run(_ command: String, host: String, ca: String) async throws -> (status: Int32, output: String) {
            let url = "postgresql://\(cluster.user)@\(host):\(cluster.port)/\(name)?sslmode=verify-full&sslrootcert=\(ca)"
            let config = PostgresConfigTests().config(in: folder, database: "{ \"url\": \"\(url)\" }")
            return try await CLIHarness.run([command, "--config", config.path])
        }

        let migrate = try await run("migrate", host: "localhost", ca: certificates.caPath)
        #expect(
            migrate.status == 0 && migrate.output.contains("migrate: applied 1, 2, 3")
                && migrate.output.contains(" to postgresql://postgres@localhost:"), "\(migrate.output)")
        let status = try await run("status", host: "localhost", ca: certificates.caPath)
        #expect(status.status == 0 && status.output.contains("overdue: 0"), "\(status.output)")
        // The connection really was TLS: the server says so for its own session.
        let ssl = try await PostgresTestCluster.offPool {
            try cluster.psql("SHOW ssl", database: name).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        #expect(ssl == "on")

        let wrongCA = try await run("status", host: "localhost", ca: certificates.otherCAPath)
        #expect(wrongCA.status == 1, "\(wrongCA.output)")
        #expect(
            wrongCA.output.contains("cannot connect to the PostgreSQL database postgresql://postgres@localhost:"),
            "\(wrongCA.output)")
        #expect(wrongCA.output.contains("not signed by a CA in sslrootcert"), "\(wrongCA.output)")

        let wrongHost = try await run("status", host: "127.0.0.1", ca: certificates.caPath)
        #expect(wrongHost.status == 1, "\(wrongHost.output)")
        #expect(wrongHost.output.contains("does not name the host 127.0.0.1"), "\(wrongHost.output)")
    }
}
