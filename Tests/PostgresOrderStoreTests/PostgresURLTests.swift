import PostgresOrderStore
import Testing

/// `database.url` as operators write it: every refusal names what was wrong and never echoes a
/// password. Pure parsing; needs no server.
struct PostgresURLTests {
    @Test func aFullURLWithVerifyFullAndACAFile() throws {
        let url = try PostgresURL(
            parsing: "postgresql://closeorderd@db.internal:6432/shop?sslmode=verify-full&sslrootcert=/etc/closeorderd/pg-ca.pem")
        #expect(
            url
                == PostgresURL(
                    user: "closeorderd", host: "db.internal", port: 6432, database: "shop",
                    sslMode: .verifyFull, sslRootCert: "/etc/closeorderd/pg-ca.pem"))
        #expect(url.display == "postgresql://closeorderd@db.internal:6432/shop?sslmode=verify-full")
    }

    @Test func aUnixSocketFolderNeedsNoTLS() throws {
        let url = try PostgresURL(parsing: "postgresql://closeorderd@/shop?host=/run/postgresql")
        #expect(url.socketPath == "/run/postgresql/.s.PGSQL.5432" && url.sslMode == .disable && url.host == nil)
    }

    @Test(arguments: [
        ("mysql://u@h/db?sslmode=disable", "must start with postgresql://"),
        ("postgresql://u:hunter2@h/db?sslmode=disable", "must not hold a password"),
        ("postgresql://h/db?sslmode=disable", "needs a user"),
        ("postgresql://u@h?sslmode=disable", "needs a database name"),
        ("postgresql://u@h/db", "needs sslmode"),
        ("postgresql://u@h/db?sslmode=prefer", "sslmode must be one of disable, require, verify-ca, verify-full, got prefer"),
        (
            "postgresql://u@h/db?sslmode=disable&sslrootcert=/ca.pem",
            "sslrootcert is only read with sslmode=verify-ca or verify-full"
        ),
        ("postgresql://u@h/db?sslmode=disable&application_name=x", "parameter application_name is not supported"),
        ("postgresql://u@h:0/db?sslmode=disable", "port must be 1-65535"),
        ("postgresql://u@/db?host=run/pg", "absolute path of the server's socket folder"),
        ("postgresql://u@/db?host=/run/pg&sslmode=require", "a unix socket carries no TLS"),
    ])
    func badURLsAreRefusedSayingWhy(text: String, reason: String) {
        #expect(throws: PostgresURLError.self) { try PostgresURL(parsing: text) }
        do {
            _ = try PostgresURL(parsing: text)
        } catch {
            #expect(error.description.contains(reason), "\(error.description)")
            #expect(!error.description.contains("hunter2"))
        }
    }
}
