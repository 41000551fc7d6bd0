// swift-tools-version: 6.2
import PackageDescription

let package = Package(
    name: "closeorderd",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "closeorderd", targets: ["closeorderd"]),
        .library(name: "GatewayVocabulary", targets: ["GatewayVocabulary"]),
        .library(name: "WeChatPayV2", targets: ["WeChatPayV2"]),
        .library(name: "WeChatPayV3", targets: ["WeChatPayV3"]),
        .library(name: "FakeWeChatPay", targets: ["FakeWeChatPay"]),
        // For the benchmark package's P6 driver, which runs the store on a simulated clock.
        .library(name: "OrderClosing", targets: ["OrderClosing"]),
        .library(name: "SQLiteOrderStore", targets: ["SQLiteOrderStore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-configuration.git", from: "1.4.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.1"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
    ],
    targets: [
        // Pure WeChat Pay v2 protocol: fields, signing, XML, verification, classification.
        // The words every API's adapter and the domain share: order key, outcomes, response summary.
        .target(name: "GatewayVocabulary"),
        .target(
            name: "WeChatPayV2",
            dependencies: ["GatewayVocabulary", .product(name: "Crypto", package: "swift-crypto")]
        ),
        // Pure WeChat Pay v3 protocol: signing messages, RSA signatures, answer verification, certificates, classification.
        .target(
            name: "WeChatPayV3",
            dependencies: [
                "GatewayVocabulary",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ]
        ),
        // Domain and policy: order state, due times, retry, circuit, the worker; ports for store and gateway.
        .target(
            name: "OrderClosing",
            dependencies: [
                "GatewayVocabulary",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
        // GRDB adapter: migrations, claim/lease/record, queries.
        .target(
            name: "SQLiteOrderStore",
            dependencies: [
                "OrderClosing", .product(name: "GRDB", package: "GRDB.swift"), .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // postgres-nio adapter: the shared queue for several app hosts and daemons (the only PostgresNIO importer).
        .target(
            name: "PostgresOrderStore",
            dependencies: [
                "OrderClosing",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // AsyncHTTPClient adapter: timeouts, api2 failover.
        .target(
            name: "WeChatPayHTTP",
            dependencies: [
                "GatewayVocabulary", "WeChatPayV2", "WeChatPayV3", "OrderClosing",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        // The faithful fake WeChat Pay used by tests, demo and benchmarks.
        .target(
            name: "FakeWeChatPay",
            dependencies: [
                "WeChatPayV2", "WeChatPayV3",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Running under systemd: log handlers (logfmt, JSON, journald native), sd_notify, watchdog.
        .target(
            name: "ServiceSupport",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Test doubles of the ports: a clock moved by hand, a scripted gateway, the in-memory store (no database driver).
        .target(
            name: "OrderClosingTestSupport",
            dependencies: [
                "OrderClosing", "GatewayVocabulary", "WeChatPayV2",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
        // Store fixtures: scratch SQLite files and throw-away PostgreSQL clusters and databases.
        .target(
            name: "StoreTestSupport",
            dependencies: [
                "OrderClosing", "OrderClosingTestSupport", "SQLiteOrderStore", "PostgresOrderStore",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "closeorderd",
            dependencies: [
                "WeChatPayV2", "WeChatPayV3", "OrderClosing", "SQLiteOrderStore", "PostgresOrderStore", "WeChatPayHTTP",
                "FakeWeChatPay", "ServiceSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "WeChatPayV2Tests",
            dependencies: ["WeChatPayV2", "GatewayVocabulary", .product(name: "PropertyBased", package: "swift-property-based")]
        ),
        .testTarget(
            name: "WeChatPayV3Tests",
            dependencies: [
                "WeChatPayV3", "WeChatPayV2", "GatewayVocabulary", "FakeWeChatPay",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
        .testTarget(
            name: "FakeWeChatPayTests",
            dependencies: ["FakeWeChatPay", "WeChatPayV2", "WeChatPayV3", "GatewayVocabulary"]
        ),
        .testTarget(
            name: "OrderClosingTests",
            dependencies: [
                "OrderClosing", "OrderClosingTestSupport", "WeChatPayV2",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "ServiceLifecycleTestKit", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "ServiceSupportTests",
            dependencies: ["ServiceSupport", .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(
            name: "WeChatPayHTTPTests",
            dependencies: [
                "WeChatPayHTTP", "WeChatPayV3", "WeChatPayV2", "OrderClosing", "FakeWeChatPay",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        // The suites every store must pass, run against the in-memory, SQLite and PostgreSQL stores.
        .testTarget(
            name: "StoreConformanceTests",
            dependencies: [
                "SQLiteOrderStore", "PostgresOrderStore", "OrderClosing", "OrderClosingTestSupport", "StoreTestSupport",
                "WeChatPayV2", .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        // SQLite only (and the audit vocabulary's PostgreSQL half, which shares the older-schema helper).
        .testTarget(
            name: "SQLiteOrderStoreTests",
            dependencies: [
                "SQLiteOrderStore", "PostgresOrderStore", "OrderClosing", "OrderClosingTestSupport", "StoreTestSupport",
                "WeChatPayV2", .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        .testTarget(
            name: "PostgresOrderStoreTests",
            dependencies: [
                "PostgresOrderStore", "OrderClosing", "OrderClosingTestSupport", "StoreTestSupport", "WeChatPayV2",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        .testTarget(
            name: "EndToEndTests",
            dependencies: [
                "FakeWeChatPay", "WeChatPayV2", "WeChatPayV3", "OrderClosingTestSupport", "StoreTestSupport",
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        .testTarget(
            name: "IntegrationTests",
            dependencies: [
                "WeChatPayHTTP", "WeChatPayV3", "FakeWeChatPay", "OrderClosing", "OrderClosingTestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
    ]
)

// Habits the compiler keeps (issue 23): a file imports every module whose members it uses (no
// reaching a library through another's imports), and every existential is spelled `any`. Both
// are errors, so the tree cannot drift back.
for target in package.targets where target.type != .plugin {
    target.swiftSettings =
        (target.swiftSettings ?? []) + [
            .enableUpcomingFeature("MemberImportVisibility"),
            .enableUpcomingFeature("ExistentialAny"),
            .treatWarning("ExistentialAny", as: .error),
        ]
}
