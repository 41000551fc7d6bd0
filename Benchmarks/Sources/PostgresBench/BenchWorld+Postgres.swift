import BenchSupport
import Foundation

extension BenchWorld {
    /// A daemon's config for the PostgreSQL store: `database.url`, and with `metricsPort`, its
    /// Prometheus endpoint on loopback, so the driver can read how many calls each of several
    /// daemons made.
    func writePostgresConfig(url: String, name: String, metricsPort: Int?) throws -> String {
        let metrics = metricsPort.map { "\"metrics\": { \"enabled\": true, \"host\": \"127.0.0.1\", \"port\": \($0) }" }
        let path = directory + "/config-\(name).json"
        try writeConfig(to: path, database: "{ \"url\": \"\(url)\" }", sections: metrics.map { [$0] } ?? [])
        return path
    }
}
