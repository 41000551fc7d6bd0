import NIOSSL
import Testing

@testable import PostgresOrderStore

/// Issue 22, item 11: the PostgreSQL connection held to the WeChat one's standard. TLS 1.2 or
/// newer; plain text only to this machine unless the operator says so; `require` warned about;
/// a password in a refused URL never printed, whatever characters it holds.
struct PostgresURLSafetyTests {
    @Test(arguments: [PostgresURL.SSLMode.require, .verifyCA, .verifyFull])
    func everyTLSModeRefusesTLSOlderThan1_2(mode: PostgresURL.SSLMode) throws {
        let url = PostgresURL(user: "u", host: "db.internal", database: "shop", sslMode: mode)
        let tls = try #require(try PostgresQueueDatabase.tlsConfiguration(for: url))
        #expect(tls.minimumTLSVersion == .tlsv12)
    }

    @Test func plainTextIsForThisMachineUnlessAskedForByName() throws {
        for host in ["127.0.0.1", "127.3.2.1", "localhost", "[::1]"] {
            let url = try PostgresURL(parsing: "postgresql://u@\(host)/db?sslmode=disable")
            #expect(url.sslMode == .disable && url.warnings.isEmpty, "\(host)")
        }
        #expect(throws: PostgresURLError.self) { try PostgresURL(parsing: "postgresql://u@db.internal/db?sslmode=disable") }
        do {
            _ = try PostgresURL(parsing: "postgresql://u@10.0.0.5/db?sslmode=disable")
        } catch {
            #expect(error.description.contains("in clear text to 10.0.0.5"), "\(error.description)")
            #expect(error.description.contains("allow_plaintext=true"), "\(error.description)")
        }
        let allowed = try PostgresURL(parsing: "postgresql://u@db.internal/db?sslmode=disable&allow_plaintext=true")
        #expect(allowed.allowPlaintext && allowed.warnings.contains { $0.contains("in clear text") })
        #expect(allowed.display == "postgresql://u@db.internal:5432/db?sslmode=disable&allow_plaintext=true")
        #expect(throws: PostgresURLError.self) {
            try PostgresURL(parsing: "postgresql://u@h/db?sslmode=disable&allow_plaintext=yes")
        }
    }

    @Test func requireSaysItChecksNoCertificate() throws {
        let url = try PostgresURL(parsing: "postgresql://u@db.internal/db?sslmode=require")
        #expect(url.warnings.contains { $0.contains("checks no certificate") }, "\(url.warnings)")
        #expect(try PostgresURL(parsing: "postgresql://u@db.internal/db?sslmode=verify-full").warnings.isEmpty)
    }

    @Test(arguments: ["s3cr@tW0rd/xyzzy", "a1@b2@c3", "x9?y8@z7", "plainpw"])
    func aRefusedURLNeverShowsAPieceOfItsPassword(password: String) {
        let text = "mysql://closeorderd:\(password)@db.internal/shop?sslmode=verify-full"
        do {
            _ = try PostgresURL(parsing: text)
            Issue.record("accepted \(text)")
        } catch {
            for piece in password.split(whereSeparator: { "@/?".contains($0) }) where piece.count > 1 {
                #expect(!error.description.contains(piece), "\(error.description) shows \(piece)")
            }
            #expect(error.description.contains("db.internal/shop"), "\(error.description)")
        }
    }
}
