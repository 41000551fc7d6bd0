// swift-tools-version: 6.2
// libFuzzer harnesses for the pure protocol modules: WeChatPayV2 (decoder, encoder, verifier,
// classifier) and WeChatPayV3 (answer headers and body: verifier, classifier). Kept out of the main
// package so their sanitizer flags never touch the daemon's build.
// Build and run it with scripts/fuzz (see Fuzz/README.md for the exact recipe).
import PackageDescription

let package = Package(
    name: "closeorderd-fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "closeorderd", path: ".."),
    ],
    targets: [
        .executableTarget(
            name: "CloseOrderFuzzer",
            dependencies: ["FuzzerEntry", .product(name: "WeChatPayV2", package: "closeorderd"),
                           .product(name: "GatewayVocabulary", package: "closeorderd")]
        ),
        .executableTarget(
            name: "V3AnswerFuzzer",
            dependencies: ["FuzzerEntry", .product(name: "WeChatPayV3", package: "closeorderd"),
                           .product(name: "WeChatPayV2", package: "closeorderd"),
                           .product(name: "GatewayVocabulary", package: "closeorderd")]
        ),
        // The C entry SwiftPM's renamed main points at; it starts libFuzzer's driver (see entry.c).
        .target(name: "FuzzerEntry"),
    ]
)
