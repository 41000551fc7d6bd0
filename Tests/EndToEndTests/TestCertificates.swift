import Foundation

/// A certificate authority made for one test with the openssl command: its CA file, a server
/// certificate it signed for `localhost` (and no other name), and an unrelated CA that signed nothing.
struct TestCertificates {
    static var hasOpenSSL: Bool { FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl") }

    let folder: URL
    var caPath: String { folder.appendingPathComponent("ca.pem").path }
    var otherCAPath: String { folder.appendingPathComponent("other-ca.pem").path }
    var serverCertificatePath: String { folder.appendingPathComponent("server.crt").path }
    var serverKeyPath: String { folder.appendingPathComponent("server.key").path }

    /// Makes them in `folder` (which the caller removes).
    init(in folder: URL) throws {
        self.folder = folder
        func path(_ name: String) -> String { folder.appendingPathComponent(name).path }
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        try Self.openssl(
            ["req", "-x509"] + ec + [
                "-keyout", path("ca.key"), "-out", path("ca.pem"), "-days", "2",
                "-subj", "/CN=closeorderd test CA",
            ])
        try Self.openssl(
            ["req", "-x509"] + ec + [
                "-keyout", path("other-ca.key"), "-out", path("other-ca.pem"), "-days", "2",
                "-subj", "/CN=closeorderd other CA",
            ])
        try Self.openssl(["req"] + ec + ["-keyout", path("server.key"), "-out", path("server.csr"), "-subj", "/CN=localhost"])
        try "subjectAltName=DNS:localhost\n".write(toFile: path("server.ext"), atomically: true, encoding: .utf8)
        try Self.openssl([
            "x509", "-req", "-in", path("server.csr"), "-CA", path("ca.pem"), "-CAkey", path("ca.key"),
            "-CAcreateserial", "-out", path("server.crt"), "-days", "2", "-extfile", path("server.ext"),
        ])
    }

    /// Runs openssl, bounded, so a stuck one fails the test instead of hanging the run.
    static func openssl(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        let exited = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in exited.signal() }
        try process.run()
        guard exited.wait(timeout: .now() + 120) == .success else {
            process.terminate()
            throw CertificateError("openssl \(arguments.first ?? "") did not finish within 120 s")
        }
        guard process.terminationStatus == 0 else { throw CertificateError("openssl \(arguments.joined(separator: " ")) failed") }
    }

    struct CertificateError: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }
}
