// swift-tools-version:6.2
import PackageDescription

// Targets follow ../shared/DESIGN.md: WAL knows nothing of HTTP, JSON or PostgreSQL; Store owns libpq;
// Events is the pure event model; Ingest (HTTP), Replay and Query sit on them; only the executable
// wires everything together (docs/architecture.md has the module map).
let package = Package(
    name: "event-metrics-service",
    platforms: [.macOS(.v15)],  // Synchronization.Mutex
    products: [
        .executable(name: "event-metrics-service", targets: ["EventMetricsService"]),
        .executable(name: "bench", targets: ["Bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
        // Already in the graph through Hummingbird; named for NIOHTTPTypes (the connection guard).
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        // C libraries from Debian, found by pkg-config (libroaring-dev ships no .pc file).
        .systemLibrary(name: "CLZ4", pkgConfig: "liblz4", providers: [.apt(["liblz4-dev"])]),
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "CRoaring", providers: [.apt(["libroaring-dev"])]),
        // zlib inflates `Content-Encoding: gzip` request bodies.
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        // CRC32C with SSE4.2 when the CPU has it and a table-driven fallback otherwise.
        .target(name: "CCRC32C"),

        .target(
            name: "WAL",
            dependencies: [
                "CLZ4", "CCRC32C",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        // A Swift owner for CRoaring bitmaps (the exact unique-user sets of the rollups).
        .target(name: "Bitmaps", dependencies: ["CRoaring"]),
        .target(
            name: "Store",
            dependencies: [
                "CLibPQ",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            resources: [.copy("Migrations")]
        ),
        // The hourly and daily rollup tables: merging new rows in (replayer, seed), rebuild and verify.
        .target(
            name: "Rollups",
            dependencies: ["Store", "Bitmaps", "Time"]
        ),
        // The JSON error shape shared by the ingest and metrics routes.
        .target(
            name: "APISupport",
            dependencies: [.product(name: "Hummingbird", package: "hummingbird")]
        ),
        // What operators see and set around the API: log line formats, API keys, rate limits.
        .target(
            name: "Operations",
            dependencies: [
                "APISupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        // UTC calendar arithmetic: the one RFC 3339 parser, floor division, hour/day buckets, the clock.
        .target(name: "Time"),
        // The event model: parser, validation, WAL record codec, idempotency key. Pure: no HTTP, no libpq.
        .target(
            name: "Events",
            dependencies: ["Time", .product(name: "Crypto", package: "swift-crypto")]
        ),
        // The HTTP ingest routes: parse with Events, append to the WAL, answer.
        .target(
            name: "Ingest",
            dependencies: [
                "Events", "Time", "WAL", "APISupport", "CZlib",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        // The replayer: drains the WAL into PostgreSQL (events and rollups) exactly once.
        .target(
            name: "Replay",
            dependencies: [
                "Events", "Time", "WAL", "Store", "Rollups",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "Query",
            dependencies: [
                "Store", "Bitmaps", "Rollups", "Time", "APISupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        .executableTarget(
            name: "EventMetricsService",
            dependencies: [
                "WAL", "Store", "Time", "Events", "Ingest", "Replay", "Query", "Rollups", "APISupport", "Operations",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            resources: [.copy("Resources")]
        ),
        .executableTarget(
            name: "Bench",
            dependencies: [
                "WAL", "Store", "Events", "Replay", "Query", "Rollups", "TestSupport", "Time",
                "CCRC32C",  // bench restart relabels copies of WAL segments (RestartBenchmarkSegments.swift)
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                // `bench load`'s HTTP/1.1 client: raw channels, no HTTP library in the request path.
                .product(name: "NIOPosix", package: "swift-nio"),
                // `bench restart` and `bench metrics-scale` poll and query a real service: not hot paths.
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "bench/Sources/Bench"
        ),

        // Helpers that tests (and bench) share: scratch databases, a private PostgreSQL, test events.
        .target(
            name: "TestSupport",
            dependencies: ["Store", "Events", "WAL", .product(name: "Logging", package: "swift-log")],
            path: "Tests/TestSupport"
        ),

        .testTarget(name: "WALTests", dependencies: ["WAL", "TestSupport"]),
        // bench's own logic that needs no service: the load client's response parser, the ack log's
        // keys as `bench check` hashes them (against the service's parser).
        .testTarget(
            name: "BenchTests",
            dependencies: ["Bench", "Events", .product(name: "NIOCore", package: "swift-nio")]
        ),
        .testTarget(name: "StoreTests", dependencies: ["Store", "TestSupport"]),
        .testTarget(name: "BitmapsTests", dependencies: ["Bitmaps"]),
        .testTarget(name: "RollupsTests", dependencies: ["Rollups", "Bitmaps", "Store", "TestSupport"]),
        .testTarget(name: "TimeTests", dependencies: ["Time"]),
        .testTarget(name: "EventsTests", dependencies: ["Events", "Time", "Store", "TestSupport"]),
        .testTarget(
            name: "IngestTests",
            dependencies: [
                "Ingest", "Events", "Time", "WAL", "TestSupport", "CZlib",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ]
        ),
        .testTarget(name: "ReplayTests", dependencies: ["Replay", "Events", "WAL", "Store", "Rollups", "TestSupport"]),
        .testTarget(
            name: "QueryTests",
            dependencies: [
                "Query", "Store", "Rollups", "Bitmaps", "Time", "APISupport", "TestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ]
        ),
        .testTarget(
            name: "OperationsTests",
            dependencies: [
                "Operations", "APISupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The executable's wiring, and process-level: the real binary (admin scrape, dashboard, SIGTERM).
        .testTarget(
            name: "EventMetricsServiceTests",
            dependencies: [
                "EventMetricsService", "Store", "WAL", "Operations", "TestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
    ]
)
