// swift-tools-version: 6.1
// Relais: a real-time teleconsultation media relay (WebRTC-compatible SFU + signaling).
//
// Modules are layered: each depends only on modules listed above it (→ its Relais and C
// dependencies; third-party products in brackets). scripts/check-imports.py checks that every
// target declares exactly what its sources import.
//   C*               system libraries from Debian, found with pkg-config (never vendored):
//                    COpenSSL, CSRTP (libsrtp2), COpus, CVPX (libvpx)
//   RelaisWire        → COpenSSL. Wire formats: demux, RTP, RTCP, STUN, SDP (views over bytes;
//                    OpenSSL for STUN's MESSAGE-INTEGRITY HMAC-SHA1)
//   RelaisTransport   → RelaisWire, COpenSSL, CSRTP. Sans-IO cores: ICE (lite server, controlling
//                    client), the DTLS-SRTP session both transports wrap, DTLS, SRTP
//   RelaisReceive     → RelaisWire. Sans-IO receive-side RTP state, relay and client alike: receive
//                    statistics (RFC 3550 probation, loss, jitter), RR blocks, NACK generation
//   RelaisCongestion  → RelaisWire. Sans-IO send-side congestion control (GCC): delay-based
//                    detector, AIMD rate control, loss bound, driven by transport-wide feedback
//   RelaisSFU         → RelaisWire. Sans-IO forwarding core: per-subscriber rewriting, SR
//                    translation, retransmission cache and NACK answers, keyframe requests
//   RelaisMedia       → RelaisWire, RelaisReceive, CVPX, COpus. Media for the headless client:
//                    codecs, RTP payload formats, jitter buffer, the test pattern, IVF/Ogg formats
//   RelaisSignaling   (no dependencies) the WebSocket protocol's messages, shared by server and clients
//   RelaisAuth        → RelaisSignaling [JWTKit]. Access tokens (JWT HS256)
//   RelaisCamera      → RelaisWire, RelaisSignaling. Sans-IO camera control rules: floors,
//                    validation, coalescing, deadman, audit
//   RelaisNegotiation → RelaisWire, RelaisTransport, RelaisSignaling. The relay's pure SDP
//                    decisions: publish answers, subscribe offers and answers, echo
//   RelaisHistory     [GRDB] consultation history and audit trail in SQLite (WAL); no Relais imports
//   RelaisAdmin       (no dependencies) the admin API's JSON values, for server and monitor
//   RelaisNIO         → RelaisWire [NIOCore]. NIO glue shared by server and client (socket addresses)
//   RelaisServer      → every module above but RelaisMedia [NIO, Hummingbird, swift-log,
//                    swift-metrics, Prometheus, ServiceLifecycle, Histogram]. Media loops, rooms,
//                    HTTP/WebSocket signaling, the admin API
//   RelaisClient      → RelaisWire, RelaisTransport, RelaisReceive, RelaisCongestion, RelaisMedia, RelaisSignaling,
//                    RelaisNIO [NIO, HummingbirdWSClient, swift-log]. The headless client: signaling
//                    client, client transports, media sessions, stats
//   RelaisMonitor     → RelaisAdmin [AsyncHTTPClient, NIOCore, NIOHTTP1]. The operators' client of
//                    the admin API: HTTP client, SSE reader, renderers (no relay code)
//   relais-server, relais-client, relais-monitor: the executables (flags, logging, lifecycle), each
//                    over its library (relais-monitor: RelaisMonitor and RelaisAdmin only)
// I/O happens in RelaisServer, RelaisClient, RelaisMonitor, RelaisHistory (SQLite) and the
// executables; the other library modules are sans-IO.
// Test support (not products): TestSupport (no dependencies: SplitMix64, the seeded generator of
// the property tests and simulations) and ServerTestSupport (→ RelaisServer: ForwardingHarness, the
// media loop with peers connected in memory, for the media path's tests and benchmarks).
import PackageDescription

let strictSwift: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "Relais",
    products: [
        .library(name: "RelaisWire", targets: ["RelaisWire"]),
        .library(name: "RelaisTransport", targets: ["RelaisTransport"]),
        .library(name: "RelaisReceive", targets: ["RelaisReceive"]),
        .library(name: "RelaisSFU", targets: ["RelaisSFU"]),
        .library(name: "RelaisCongestion", targets: ["RelaisCongestion"]),
        .library(name: "RelaisSignaling", targets: ["RelaisSignaling"]),
        .library(name: "RelaisNegotiation", targets: ["RelaisNegotiation"]),
        .library(name: "RelaisAuth", targets: ["RelaisAuth"]),
        .library(name: "RelaisMedia", targets: ["RelaisMedia"]),
        .library(name: "RelaisCamera", targets: ["RelaisCamera"]),
        .library(name: "RelaisHistory", targets: ["RelaisHistory"]),
        .library(name: "RelaisAdmin", targets: ["RelaisAdmin"]),
        .library(name: "RelaisServer", targets: ["RelaisServer"]),
        .library(name: "RelaisClient", targets: ["RelaisClient"]),
        .library(name: "RelaisMonitor", targets: ["RelaisMonitor"]),
        .executable(name: "relais-server", targets: ["relais-server"]),
        .executable(name: "relais-client", targets: ["relais-client"]),
        .executable(name: "relais-monitor", targets: ["relais-monitor"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket", from: "2.8.1"),
        .package(url: "https://github.com/vapor/jwt-kit", from: "5.8.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        // History and audit in SQLite (Debian's libsqlite3-dev through GRDBSQLite).
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        // Operators: Prometheus metrics through swift-metrics.
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        // relais-monitor's HTTP client for the admin API.
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        // Benchmarks only; MallocInterposer alone (no runtime interposer) resolves from the local mirror.
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
        // The media loops' sampled relay-latency histogram.
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
    ],
    targets: [
        // MARK: Native libraries (Debian: libsrtp2-dev libssl-dev libopus-dev libvpx-dev)
        .systemLibrary(name: "CSRTP", pkgConfig: "libsrtp2", providers: [.apt(["libsrtp2-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "COpus", pkgConfig: "opus", providers: [.apt(["libopus-dev"])]),
        .systemLibrary(name: "CVPX", pkgConfig: "vpx", providers: [.apt(["libvpx-dev"])]),

        // MARK: Wire formats
        .target(
            name: "RelaisWire",
            dependencies: ["COpenSSL"],
            swiftSettings: strictSwift
        ),

        // MARK: Secure transport: ICE-lite and ICE client, DTLS (OpenSSL memory BIOs), SRTP (libsrtp2)
        .target(
            name: "RelaisTransport",
            dependencies: ["RelaisWire", "COpenSSL", "CSRTP"],
            swiftSettings: strictSwift
        ),

        // MARK: NIO glue shared by the server and the client (addresses)
        .target(
            name: "RelaisNIO",
            dependencies: ["RelaisWire", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: strictSwift
        ),

        // MARK: Receive side: statistics, RR blocks, NACK generation (sans-IO; relay and client)
        .target(
            name: "RelaisReceive",
            dependencies: ["RelaisWire"],
            swiftSettings: strictSwift
        ),

        .target(
            name: "RelaisCongestion",
            dependencies: ["RelaisWire"],
            swiftSettings: strictSwift
        ),

        // MARK: Forwarding core: sans-IO, driven by packets and time
        .target(
            name: "RelaisSFU",
            dependencies: ["RelaisWire"],
            swiftSettings: strictSwift
        ),

        // MARK: Client media: codecs (libvpx, libopus), payload formats, jitter buffer, test pattern
        .target(
            name: "RelaisMedia",
            dependencies: ["RelaisWire", "RelaisReceive", "CVPX", "COpus"],
            swiftSettings: strictSwift
        ),

        // MARK: Signaling protocol: messages and tokens (specified in Signaling/)
        .target(
            name: "RelaisSignaling",
            swiftSettings: strictSwift
        ),

        // MARK: Access tokens (JWT HS256 via jwt-kit), apart so the protocol types stay light
        .target(
            name: "RelaisAuth",
            dependencies: ["RelaisSignaling", .product(name: "JWTKit", package: "jwt-kit")],
            swiftSettings: strictSwift
        ),

        // MARK: Camera control: the relay's rules for remote PTZ (sans-IO)
        .target(
            name: "RelaisCamera",
            dependencies: ["RelaisWire", "RelaisSignaling"],
            swiftSettings: strictSwift
        ),

        // MARK: History and audit: SQLite in WAL mode (GRDB), plain strings and dates, no Relais imports
        .target(
            name: "RelaisHistory",
            dependencies: [.product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: strictSwift
        ),

        // MARK: The operators' view: admin API values shared by the server and relais-monitor
        .target(
            name: "RelaisAdmin",
            swiftSettings: strictSwift
        ),

        // MARK: Negotiation: the relay's SDP decisions as pure functions (text in, answer or typed error out)
        .target(
            name: "RelaisNegotiation",
            dependencies: ["RelaisWire", "RelaisTransport", "RelaisSignaling"],
            swiftSettings: strictSwift
        ),

        // MARK: Server: NIO media loops, rooms, HTTP and WebSocket signaling
        .target(
            name: "RelaisServer",
            dependencies: [
                "RelaisWire", "RelaisTransport", "RelaisReceive", "RelaisSFU", "RelaisSignaling", "RelaisAuth", "RelaisNIO", "RelaisCamera",
                "RelaisAdmin", "RelaisHistory", "RelaisNegotiation",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            swiftSettings: strictSwift
        ),
        // MARK: Headless client: signaling, client transports, media sessions, stats, load
        .target(
            name: "RelaisClient",
            dependencies: [
                "RelaisWire", "RelaisTransport", "RelaisReceive", "RelaisCongestion", "RelaisMedia", "RelaisSignaling", "RelaisNIO",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
            ],
            swiftSettings: strictSwift
        ),
        .executableTarget(
            name: "relais-client",
            dependencies: [
                "RelaisClient", "RelaisMedia", "RelaisSignaling", "RelaisAuth",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strictSwift
        ),
        // MARK: Operators' CLI: admin API client, SSE reader, table/detail/watch renderers (no relay code)
        .target(
            name: "RelaisMonitor",
            dependencies: [
                "RelaisAdmin",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strictSwift
        ),
        .executableTarget(
            name: "relais-monitor",
            dependencies: [
                "RelaisMonitor", "RelaisAdmin",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strictSwift
        ),
        .executableTarget(
            name: "relais-server",
            dependencies: [
                "RelaisServer", "RelaisTransport", "RelaisSignaling", "RelaisAuth", "RelaisHistory",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSwift
        ),

        // MARK: Tests
        // Helpers shared by the test targets (a seeded generator for property tests and simulations).
        .target(name: "TestSupport", path: "Tests/TestSupport", swiftSettings: strictSwift),
        // The server's media loop with peers connected in memory (ForwardingHarness), for the media
        // path's tests and benchmarks; apart from TestSupport so that light test targets do not link
        // the server, and out of RelaisServer so that the product ships no test scaffolding.
        .target(
            name: "ServerTestSupport",
            dependencies: [
                "RelaisServer", "RelaisNegotiation", "RelaisNIO", "RelaisSFU", "RelaisTransport", "RelaisWire",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            path: "Tests/ServerTestSupport",
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "NativeLibrariesTests",
            dependencies: ["CSRTP", "COpenSSL", "COpus", "CVPX"],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "RelaisWireTests",
            dependencies: ["TestSupport", "RelaisWire"],
            resources: [.copy("Fixtures")],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "RelaisTransportTests",
            dependencies: ["TestSupport", "RelaisTransport", "RelaisWire"],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "RelaisReceiveTests",
            dependencies: ["TestSupport", "RelaisReceive", "RelaisWire"],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "RelaisCongestionTests",
            dependencies: ["TestSupport", "RelaisCongestion", "RelaisWire"],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "RelaisSFUTests",
            dependencies: ["TestSupport", "RelaisSFU", "RelaisReceive", "RelaisWire"],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "RelaisMediaTests",
            dependencies: ["TestSupport", "RelaisMedia", "RelaisReceive", "RelaisWire"],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "RelaisClientTests",
            dependencies: ["RelaisClient", "RelaisWire", "RelaisTransport", "RelaisSignaling"],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "RelaisCameraTests",
            dependencies: ["TestSupport", "RelaisCamera", "RelaisSignaling", "RelaisWire"],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "RelaisSignalingTests",
            dependencies: ["RelaisSignaling", "RelaisAuth"],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "RelaisHistoryTests",
            dependencies: ["RelaisHistory"],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "RelaisNegotiationTests",
            dependencies: ["RelaisNegotiation", "RelaisWire", "RelaisSignaling", "RelaisTransport"],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "RelaisServerTests",
            dependencies: [
                "TestSupport", "ServerTestSupport",
                "RelaisServer", "RelaisNegotiation", "RelaisWire", "RelaisSignaling", "RelaisTransport", "RelaisAuth",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "RelaisMonitorTests",
            dependencies: [
                "RelaisMonitor", "RelaisAdmin", "relais-monitor",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "EndToEndTests",
            dependencies: [
                "RelaisServer", "RelaisTransport", "RelaisSignaling", "RelaisAuth", "RelaisAdmin", "RelaisHistory",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["peers"],
            swiftSettings: strictSwift
        ),

        // MARK: Benchmarks (swift package benchmark; allocation thresholds in Benchmarks/Thresholds)
        .executableTarget(
            name: "RelaisBenchmarks",
            dependencies: [
                "RelaisWire", "RelaisTransport", "RelaisReceive", "RelaisSFU", "RelaisCamera", "RelaisSignaling", "RelaisServer",
                "ServerTestSupport",
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/RelaisBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
