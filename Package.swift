// swift-tools-version:6.2
import PackageDescription

// Poplar: a clustered POP3 service over one shared mail root.
//
// Targets (see docs/architecture.md):
// - SharedStore: the Mail Storage Access API (Volume, layout, lock, delivery, passwords). No networking.
// - POP3Core:    the POP3 grammar and the pure session state machine (Sources/Node/POP3Core). No I/O.
// - Node:        the SwiftNIO POP3 server around POP3Core, authentication, limits, TLS.
// - Coordinator: inbound delivery (local delivery now; LMTP/SMTP with the coordinator issue).
// - poplar:      the one executable: admin CLI, `poplar node`, `poplar dev`.
let package = Package(
    name: "poplar",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "poplar", targets: ["poplar"]),
        .library(name: "SharedStore", targets: ["SharedStore"]),
        .library(name: "POP3Core", targets: ["POP3Core"]),
        .library(name: "Node", targets: ["Node"]),
        .library(name: "Coordinator", targets: ["Coordinator"]),
        .library(name: "Admin", targets: ["Admin"]),
        .library(name: "Console", targets: ["Console"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-configuration.git", from: "1.4.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.7.1"),
        // `poplar console` (docs/console.md): the HTTPS server and its server-rendered templates.
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CNFS",
            path: "Sources/SharedStore/CNFS",
            providers: [.apt(["libnfs-dev"])]
        ),
        .systemLibrary(
            name: "CPAM",
            path: "Sources/Node/CPAM",
            providers: [.apt(["libpam0g-dev"])]
        ),
        .systemLibrary(
            name: "CLDAP",
            path: "Sources/Node/CLDAP",
            providers: [.apt(["libldap-dev"])]
        ),
        .target(
            name: "SharedStore",
            dependencies: [
                "CNFS",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            exclude: ["CNFS", "Admin"]
        ),
        .target(
            name: "POP3Core",
            dependencies: [
                // SCRAM's proof check (HMAC and SHA-256): computation only, no I/O.
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Sources/Node/POP3Core"
        ),
        .target(
            name: "ServerSupport",
            dependencies: [
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Sources/Node/ServerSupport"
        ),
        .target(
            name: "Node",
            dependencies: [
                "CPAM",
                "CLDAP",
                "POP3Core",
                "ServerSupport",
                "SharedStore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "JWTKit", package: "jwt-kit"),
            ],
            path: "Sources/Node",
            exclude: ["CLDAP", "CPAM", "POP3Core", "ServerSupport"]
        ),
        .target(
            name: "SMTPCore",
            path: "Sources/Coordinator/SMTPCore"
        ),
        .target(
            name: "Coordinator",
            dependencies: [
                "SharedStore", "SMTPCore", "ServerSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            exclude: ["SMTPCore", "Console"]
        ),
        // The admin operations shared by the CLI and the console (one implementation of each, on the store).
        .target(
            name: "Admin",
            dependencies: ["SharedStore", "POP3Core"],
            path: "Sources/SharedStore/Admin",
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        // `poplar console`: the web console over Admin (Hummingbird 2, swift-mustache; docs/console.md).
        .target(
            name: "Console",
            dependencies: [
                "Admin", "SharedStore", "Node", "ServerSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Sources/Coordinator/Console",
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        .executableTarget(
            name: "poplar",
            dependencies: [
                "SharedStore", "Node", "POP3Core", "Coordinator", "ServerSupport", "Admin", "Console",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),  // poplar import pop3 --tls/--stls
            ],
            exclude: ["BuildInfoPlugin"],
            plugins: ["BuildInfoPlugin"]
        ),
        // `poplar --version`'s commit (Sources/poplar/BuildInfoPlugin): git, run before each build of poplar.
        .plugin(name: "BuildInfoPlugin", capability: .buildTool(), path: "Sources/poplar/BuildInfoPlugin"),
        // Fuzzing (docs/fuzzing.md): the targets as a library, one libFuzzer binary that dispatches on
        // POPLAR_FUZZ_TARGET (built with -DFUZZING by Tests/Fuzz/run-fuzz.sh; otherwise a corpus replayer), and
        // the replay of every corpus and crash input that CI runs.
        .target(
            name: "FuzzTargets",
            dependencies: [
                "POP3Core", "SMTPCore", "ServerSupport", "SharedStore",
                .product(name: "Configuration", package: "swift-configuration"),
            ],
            path: "Tests/Fuzz/FuzzTargets",
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        .target(name: "CFuzzDriver", path: "Tests/Fuzz/CFuzzDriver"),
        .executableTarget(
            name: "PoplarFuzz",
            dependencies: ["FuzzTargets", "CFuzzDriver"],
            path: "Tests/Fuzz/PoplarFuzz",
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        // SplitMix64, the seeded generator of the randomized tests.
        .target(name: "TestSupport", path: "Tests/TestSupport", swiftSettings: [.swiftLanguageMode(.v6)]),
        .testTarget(name: "FuzzReplayTests", dependencies: ["FuzzTargets", "TestSupport"]),
        .testTarget(name: "SharedStoreTests", dependencies: ["SharedStore", "TestSupport"]),
        .testTarget(name: "DocsTests"),
        .testTarget(
            name: "ConsoleTests",
            dependencies: [
                "Console", "Admin", "SharedStore", "Node", "ServerSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        .testTarget(name: "POP3CoreTests", dependencies: ["POP3Core", "TestSupport"]),
        .testTarget(name: "SMTPCoreTests", dependencies: ["SMTPCore", "TestSupport"]),
        .testTarget(
            name: "ServerSupportTests",
            dependencies: [
                "ServerSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "ServerTests",
            dependencies: [
                "Node", "POP3Core", "SharedStore", "Coordinator", "SMTPCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
    ]
)

// Zero warnings, kept so: with POPLAR_WARNINGS_AS_ERRORS=1 (the test command, Tests/run-tests, exports it) a warning in
// the project's own targets fails the build. Dependencies are not affected (SwiftPM silences theirs).
if Context.environment["POPLAR_WARNINGS_AS_ERRORS"] == "1" {
    for target in package.targets where target.type != .system && target.type != .plugin {
        target.swiftSettings = (target.swiftSettings ?? []) + [.treatAllWarnings(as: .error)]
        target.cSettings = (target.cSettings ?? []) + [.treatAllWarnings(as: .error)]
    }
}
