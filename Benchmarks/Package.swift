// swift-tools-version: 6.2
// Benchmarks for closeorderd, kept out of the main package so its build stays fast.
//  - Micro: ordo-one/benchmark micro-benchmarks (v2 and v3 signing, XML, the claim query). `swift package benchmark`
//  - closeorderd-bench: the end-to-end driver that runs the real daemon binary against the fake
//    WeChat Pay and prints the table. `scripts/bench` builds and runs both.
import PackageDescription
import class Foundation.ProcessInfo
import struct Foundation.URL

// A path dependency is known by its folder's name ("main" here, something else in CI's clone).
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().lastPathComponent

let package = Package(
    name: "closeorderd-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark.git", from: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        // Issue 15's PostgreSQL figures: the merchant's inserter and the driver's reads (closeorderd-pg-bench only).
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        // Issue 24's floor: the daemon's HTTP client alone (the same versions as the daemon's).
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
    ],
    targets: [
        // What the drivers share (no database driver): arguments, clocks, /proc and cgroup readings,
        // the daemon and `closeorderd watch` as child processes, the paced inserter, the fake's world.
        .target(
            name: "BenchSupport",
            dependencies: [
                .product(name: "FakeWeChatPay", package: root),
                .product(name: "WeChatPayV2", package: root),
                .product(name: "WeChatPayV3", package: root),
            ],
            path: "Sources/BenchSupport"
        ),
        .executableTarget(
            name: "closeorderd-bench",
            dependencies: [
                "BenchSupport",
                .product(name: "FakeWeChatPay", package: root),
                .product(name: "WeChatPayV2", package: root),
                .product(name: "WeChatPayV3", package: root),
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            path: "Sources/BenchE2E"
        ),
        // P6 (issue 13): a simulated week of closes and retention through the real SQLiteOrderStore.
        .executableTarget(
            name: "closeorderd-retention-bench",
            dependencies: [
                "BenchSupport",
                .product(name: "OrderClosing", package: root),
                .product(name: "SQLiteOrderStore", package: root),
                .product(name: "WeChatPayV2", package: root),
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            path: "Sources/RetentionBench"
        ),
        // Issue 15: P1 with 1, 2 and 3 daemons, P3 and the merchant's INSERT on PostgreSQL (scripts/bench-postgres).
        // A target of its own so that scripts/bench (and CI's quick run) never builds postgres-nio.
        .executableTarget(
            name: "closeorderd-pg-bench",
            dependencies: [
                "BenchSupport",
                .product(name: "FakeWeChatPay", package: root),
                .product(name: "WeChatPayV2", package: root),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            path: "Sources/PostgresBench"
        ),
        // Issue 24: the loopback floor, an AsyncHTTPClient → NIO POST loop at the daemon's
        // concurrency (client CPU per request), which scripts/bench runs beside P1.
        .executableTarget(
            name: "closeorderd-floor",
            dependencies: [
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "Sources/Floor"
        ),
        .executableTarget(
            name: "Micro",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "WeChatPayV2", package: root),
                .product(name: "WeChatPayV3", package: root),
                .product(name: "FakeWeChatPay", package: root),
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            path: "Benchmarks/Micro",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
