// swift-tools-version:6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
    // Dynamic exclusivity checks cost ~2% of a 1 KiB request's CPU in the profile (swift_beginAccess);
    // debug builds and the tests keep them. This reaches only Meridian's own targets: the release
    // build (scripts/build-release.sh) passes the flag to the dependencies too.
    .unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release)),
]

let package = Package(
    name: "meridian",
    platforms: [.macOS(.v15)],  // (Synchronization: Request decodes its fields once through AtomicLazyReference)
    products: [
        .executable(name: "meridian", targets: ["meridian"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio-http2.git", from: "1.46.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-atomics.git", from: "1.3.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        // Only the OTLP/HTTP exporter: the gRPC trait would resolve and build grpc-swift as well.
        .package(url: "https://github.com/swift-otel/swift-otel.git", from: "1.6.0", traits: ["OTLPHTTP"]),
        .package(url: "https://github.com/apple/swift-distributed-tracing.git", from: "1.7.3"),
        // Already in the graph through swift-otel's HTTP client; SHA-256, AES-GCM and the JWT signatures.
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        // JWKS fetches (already in the graph through swift-otel's OTLP/HTTP exporter).
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        // PEM public keys and certificates for JWT keys (also already in the graph).
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        // OCSP requests and responses (swift-certificates' OCSP types are internal; already in the graph through it).
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
    ],
    targets: [
        .executableTarget(
            name: "meridian",
            dependencies: [
                "MeridianServer",
                "MeridianConfig",
                "MeridianRedis",  // bench-redis
                "MeridianCache",  // bench-cache-eviction
                "MeridianSecurity",  // hash-password
                "CTCMalloc",  // the process's allocator
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "MeridianConfig",
            dependencies: [
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "MeridianCore",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "MeridianStatic",
            dependencies: [
                "MeridianCore",
                "MeridianConfig",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "MeridianActions",
            dependencies: [
                "MeridianCore",
                "MeridianConfig",
                "MeridianStatic",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "MeridianProxy",
            dependencies: [
                "MeridianCore",
                "MeridianConfig",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "MeridianRedis",
            dependencies: [
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "MeridianCluster",
            dependencies: [
                "MeridianWebSocket",
                "MeridianSecurity",
                "MeridianCore",
                "MeridianConfig",
                "MeridianProxy",
                "MeridianRedis",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // Debian's zlib1g-dev (deflate with a gzip wrapper) and libbrotli-dev.
        .systemLibrary(name: "CZlib"),
        .systemLibrary(name: "CBrotli"),
        // Debian's libdeflate-dev: gzip of a whole body in one call, ~2.4x zlib's speed at the same level.
        .systemLibrary(name: "CLibdeflate"),
        // preadv2(RWF_NOWAIT): a file read on the event loop that never waits for the disk.
        .systemLibrary(name: "CFileIO"),
        // gperftools' tcmalloc, linked into the binary as its malloc (Allocator in the meridian target).
        .systemLibrary(name: "CTCMalloc", providers: [.apt(["libgoogle-perftools-dev"])]),
        .target(
            name: "MeridianCompression",
            dependencies: [
                "CZlib",
                "CBrotli",
                "CLibdeflate",
                "CFileIO",
                "MeridianCore",
                "MeridianConfig",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Atomics", package: "swift-atomics"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "MeridianWebSocket",
            dependencies: [
                "CZlib",
                "MeridianCore",
                "MeridianConfig",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "MeridianCache",
            dependencies: [
                "MeridianCore",
                "MeridianConfig",
                "MeridianProxy",
                "MeridianRedis",
                "MeridianStatic",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // Debian's libcrypt-dev (libxcrypt: bcrypt) and libargon2-dev, for basic auth's password hashes.
        .systemLibrary(name: "CCrypt"),
        .systemLibrary(name: "CArgon2"),
        // Debian's libmodsecurity-dev (3.0.9) and modsecurity-crs: the WAF. No pkgConfig: the module map names the header and the library.
        .systemLibrary(name: "CModSecurity"),
        .target(
            name: "MeridianSecurity",
            dependencies: [
                "CCrypt",
                "CArgon2",
                "CModSecurity",
                "MeridianCore",
                "MeridianConfig",
                "MeridianProxy",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "MeridianTelemetry",
            dependencies: [
                "MeridianWebSocket",
                "MeridianCore",
                "MeridianConfig",
                "MeridianProxy",
                "MeridianRedis",
                "MeridianCluster",
                "MeridianCompression",
                "MeridianCache",
                "MeridianSecurity",
                .product(name: "OTel", package: "swift-otel"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "Instrumentation", package: "swift-distributed-tracing"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "MeridianServer",
            dependencies: [
                "MeridianWebSocket",
                "MeridianCore",
                "MeridianStatic",
                "MeridianActions",
                "MeridianProxy",
                "MeridianTelemetry",
                "MeridianConfig",
                "MeridianRedis",
                "MeridianCluster",
                "MeridianCompression",
                "MeridianCache",
                "MeridianSecurity",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "MeridianTests",
            dependencies: [
                "MeridianServer",
                "MeridianProxy",
                "MeridianCore",
                "MeridianStatic",
                "MeridianActions",
                "MeridianTelemetry",
                "MeridianConfig",
                "MeridianRedis",
                "MeridianCluster",
                "MeridianCompression",
                "MeridianCache",
                "MeridianWebSocket",
                "MeridianSecurity",
                "CZlib",
                "CBrotli",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOTestUtils", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
