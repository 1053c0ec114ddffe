// swift-tools-version:6.0
import PackageDescription

let strict: [SwiftSetting] = [.swiftLanguageMode(.v6)]

let package = Package(
    name: "relay",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "MQTT", targets: ["MQTT"]),
        .library(name: "MQTTServer", targets: ["MQTTServer"]),
        .library(name: "RelayStore", targets: ["RelayStore"]),
        .executable(name: "relay", targets: ["RelayCLI"]),
        .executable(name: "relay-bench", targets: ["RelayBenchCLI"]),
        .executable(name: "relayctl", targets: ["RelayCtlCLI"]),
        .library(name: "RelayClient", targets: ["RelayClient"]),
        .library(name: "Signal", targets: ["Signal"]),
        .library(name: "RelayE2EE", targets: ["RelayE2EE"]),
        .executable(name: "relay-cli", targets: ["RelayCLIClient"]),
        .executable(name: "signal-bench", targets: ["SignalBenchCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        // Deque: a queue that holds no storage while empty (swift-nio depends on it already).
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.1.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.7.1"),
        // Ed25519 for prekey signatures; jwt-kit resolves swift-crypto 4.x, and 3.x works as well.
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        // Push providers: HTTPS (and HTTP/2 for APNs) with timeouts and pooling.
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        // The operations console's HTTP server (relayctl console); only RelayConsole links it.
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        // HTTPField.Name for the media routes' tus headers (Hummingbird's own dependency).
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.0.0"),
        // ServiceGroup: relay serve and relay broker's parts; the console's monitor beside Hummingbird's server.
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
    ],
    targets: [
        // MQTT 3.1.1 and 5.0 packets and codec. No sockets.
        .target(
            name: "MQTT",
            dependencies: [.product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: strict
        ),
        // The server engine: listeners, framing, session state machine, router protocol.
        .target(
            name: "MQTTServer",
            dependencies: [
                "MQTT",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "DequeModule", package: "swift-collections"),
            ],
            swiftSettings: strict
        ),
        // Reads relays' operability endpoints: a one-shot HTTP/1.1 GET and the
        // Prometheus text format. Shared by the drill (RelayDrill), the console and relay-bench.
        .target(
            name: "MetricsScrape",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        // The chat domain: identifiers, envelopes (generated protobuf), rules. No I/O.
        .target(
            name: "RelayCore",
            dependencies: [.product(name: "SwiftProtobuf", package: "swift-protobuf")],
            swiftSettings: strict
        ),
        // Device identity: the deployment key pair, device tokens (EdDSA JWTs).
        .target(
            name: "RelayIdentity",
            dependencies: [.product(name: "JWTKit", package: "jwt-kit")],
            swiftSettings: strict
        ),
        // Push notifications without I/O: RFC 8291 message encryption, RFC 8292
        // VAPID, targets, and the coalescing, backoff and circuit-breaker rules.
        .target(
            name: "RelayPush",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
                // RSA (RS256) for FCM's service-account grant.
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),
        // The server's parts, one concern per target (decision 0032); dependencies
        // point one way: RelayOps, RelayTopology, RelayLinkEmulator, RelayReplication,
        // RelayChat, RelayDrill, then the thin command targets.
        //
        // Operability: the HTTP ops endpoints and readiness checks, JSON logs,
        // metrics set-up, and the small helpers of the command-line tools.
        .target(
            name: "RelayOps",
            dependencies: [
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                // The console's operator token (ConsoleTokenFile): random bytes.
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),
        // The deployment's description: topology.json (model and checks) and
        // regions/<name>.json (RegionSettings). No I/O beyond reading them.
        .target(
            name: "RelayTopology",
            dependencies: [
                "RelayCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        // The delay proxy on inter-region links (RTT, bandwidth, loss, partitions)
        // and the client of its control listener.
        .target(
            name: "RelayLinkEmulator",
            dependencies: [
                "RelayOps",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        // The inter-region stream without chat: outboxes, the batch codec, shippers
        // over libmosquitto, the peer listener and its router, dead letters.
        .target(
            name: "RelayReplication",
            dependencies: [
                "MQTT", "MQTTServer", "RelayCore", "RelayStore", "Mosquitto",
                "RelayOps", "RelayTopology",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),
        // The chat relay: device tokens, chat routing and storage, the regions
        // (homes, states, frames applied, failover), push and media. One target:
        // ChatRouter, the regions, push and media call each other (decision 0032).
        .target(
            name: "RelayChat",
            dependencies: [
                "MQTT", "MQTTServer",
                "RelayCore", "RelayIdentity", "RelayStore",
                "RelayOps", "RelayTopology", "RelayReplication",
                // MosquittoClient: the region watcher's heartbeats to peers.
                "Mosquitto",
                // XEdDSA: the key directory verifies signed prekeys (libsignal-protocol-c; decision 0016).
                "Signal",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                "RelayPush",
                // Media (docs/media.md): the region's HTTP listener is Hummingbird when media is on.
                "RelayMedia", "RelayMediaHTTP", "RelayMediaS3",
                .product(name: "Hummingbird", package: "hummingbird"),
                // HTTP1Channel: the listener's connections with a sendfile step for blob downloads.
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        // The failover drill (relayctl drill): devices in every region, a region
        // killed or cut off, failed over and back, and the report.
        .target(
            name: "RelayDrill",
            dependencies: [
                "RelayChat", "RelayReplication", "RelayLinkEmulator", "RelayTopology", "RelayOps",
                // The drill's devices: MosquittoClient and the SDK's Endpoint.
                "RelayClient", "MetricsScrape", "RelayCore", "RelayIdentity", "RelayMedia",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            swiftSettings: strict
        ),
        // `relay serve` and `relay broker`: options, and the node's parts composed
        // as a ServiceGroup (graceful shutdown on SIGTERM/SIGINT).
        .target(
            name: "RelayServerCommands",
            dependencies: [
                "RelayChat", "RelayReplication", "RelayTopology", "RelayOps",
                "MQTT", "MQTTServer", "RelayCore", "RelayIdentity", "RelayStore",
                "RelayPush", "RelayMedia", "RelayMediaHTTP", "RelayMediaS3",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        // relayctl's commands: keys and tokens, topology, links, failover and
        // failback, drills, dead letters, outboxes.
        .target(
            name: "RelayCtlCommands",
            dependencies: [
                "RelayDrill", "RelayChat", "RelayReplication", "RelayLinkEmulator", "RelayTopology", "RelayOps",
                "RelayCore", "RelayIdentity", "RelayStore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        // Media attachments without HTTP (docs/media.md): signed URLs, tus and
        // Range rules, limits, and the blob stores (filesystem by default).
        .target(
            name: "RelayMedia",
            dependencies: [
                "RelayCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "_NIOFileSystem", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),
        // The media routes (tus uploads, Range downloads) over Hummingbird.
        .target(
            name: "RelayMediaHTTP",
            dependencies: [
                "RelayMedia", "RelayCore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            swiftSettings: strict
        ),
        // The S3-compatible blob store (SigV4, multipart) over AsyncHTTPClient.
        .target(
            name: "RelayMediaS3",
            dependencies: [
                "RelayMedia", "RelayCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "_NIOFileSystem", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(name: "RelayCLI", dependencies: ["RelayServerCommands", "RelayOps"], swiftSettings: strict),
        .executableTarget(name: "RelayCtlCLI", dependencies: ["RelayCtlCommands", "RelayConsole", "RelayOps"], swiftSettings: strict),
        // The operations console (relayctl console): the deployment's state read
        // from every region, drills started and kept, served over Hummingbird.
        .target(
            name: "RelayConsole",
            dependencies: [
                "RelayDrill", "RelayChat", "RelayLinkEmulator", "RelayTopology", "RelayOps",
                "RelayCore", "MetricsScrape",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // hiredis, the C client of Redis (Debian's libhiredis-dev).
        .systemLibrary(
            name: "CHiredis",
            pkgConfig: "hiredis",
            providers: [.apt(["libhiredis-dev"])]
        ),
        // Redis over CHiredis: connection pool with pipelining, Lua scripts, Pub/Sub.
        .target(
            name: "RelayStore",
            dependencies: [
                "CHiredis",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ],
            resources: [.copy("Scripts")],
            swiftSettings: strict
        ),
        // libmosquitto, through pkg-config; only Mosquitto imports it.
        .systemLibrary(
            name: "CMosquitto",
            pkgConfig: "libmosquitto",
            providers: [.apt(["libmosquitto-dev"])]
        ),
        // MosquittoClient: libmosquitto's client, its thread and callbacks as Swift
        // async calls. The device SDK and the relay (shippers, watcher, drill) use it.
        .target(
            name: "Mosquitto",
            dependencies: ["CMosquitto"],
            swiftSettings: strict
        ),
        // Client SDK for devices: connect with failover, send with retries and
        // idempotency, receive with dedup and reorder; re-exports Mosquitto.
        .target(
            name: "RelayClient",
            dependencies: [
                "Mosquitto", "RelayCore",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: strict
        ),
        // libsignal-protocol-c (Debian's libsignal-protocol-c-dev, GPLv3: see LICENSE and
        // docs/decisions/0016) and OpenSSL's libcrypto for its crypto provider; only Signal imports them.
        .systemLibrary(
            name: "CSignal",
            pkgConfig: "libsignal-protocol-c",
            providers: [.apt(["libsignal-protocol-c-dev"])]
        ),
        .systemLibrary(
            name: "COpenSSL",
            pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"])]
        ),
        // The Signal protocol over libsignal-protocol-c: X3DH, Double Ratchet, Sender Keys,
        // XEdDSA, safety numbers; stores as Swift protocols, a file-backed store.
        .target(
            name: "Signal",
            dependencies: ["CSignal", "COpenSSL"],
            swiftSettings: strict
        ),
        // End-to-end encryption for the SDK and relay-cli: the Signal protocol (Signal)
        // over RelayClient; docs/e2ee.md.
        .target(
            name: "RelayE2EE",
            dependencies: [
                "Signal", "RelayClient", "RelayCore",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),
        // Media transfers for the SDK and relay-cli (docs/media.md): a tus 1.0
        // uploader and a resuming downloader over AsyncHTTPClient.
        .target(
            name: "RelayMediaClient",
            dependencies: [
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        // relay-cli's commands over RelayClient and RelayE2EE.
        .target(
            name: "RelayCLIKit",
            dependencies: [
                "RelayClient", "RelayCore", "RelayE2EE", "Signal", "RelayMediaClient",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(name: "RelayCLIClient", dependencies: ["RelayCLIKit"], swiftSettings: strict),
        // What end-to-end encryption costs a device (BENCHMARKS.md); in-process, no relay.
        .executableTarget(
            name: "SignalBenchCLI",
            dependencies: ["Signal", "RelayE2EE", "RelayClient", "RelayCore", .product(name: "SwiftProtobuf", package: "swift-protobuf")],
            swiftSettings: strict
        ),
        // Load generator over the project's own codec; the chat scenarios
        // issue device tokens and speak the device contract's protobuf.
        .target(
            name: "RelayBench",
            dependencies: [
                "MQTT", "RelayCore", "RelayIdentity", "MetricsScrape",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(name: "RelayBenchCLI", dependencies: ["RelayBench"], swiftSettings: strict),
        .testTarget(
            name: "MQTTTests",
            dependencies: ["MQTT", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "MetricsScrapeTests",
            dependencies: ["MetricsScrape"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "RelayBenchTests",
            dependencies: ["RelayBench", "MQTT"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "RelayClientTests",
            dependencies: [
                "RelayClient", "Mosquitto", "RelayCore", "RelayCLIKit", "RelayE2EE", "Signal",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "SignalTests",
            dependencies: ["Signal"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "RelayCoreTests",
            dependencies: ["RelayCore", "MQTT"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "MQTTServerTests",
            dependencies: [
                "MQTT", "MQTTServer",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "RelayPushTests",
            dependencies: ["RelayPush", .product(name: "Crypto", package: "swift-crypto"), .product(name: "_CryptoExtras", package: "swift-crypto")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "RelayMediaTests",
            dependencies: ["RelayMedia", "RelayCore", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "RelayIdentityTests",
            dependencies: ["RelayIdentity"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "RelayTests",
            dependencies: [
                "RelayChat", "RelayReplication", "RelayDrill", "RelayLinkEmulator", "RelayTopology", "RelayOps",
                "RelayServerCommands", "RelayCtlCommands",
                "RelayIdentity", "MQTT", "MQTTServer", "RelayPush",
                // Replication tests: real Redis, frames, and libmosquitto as a peer.
                "RelayStore", "RelayCore", "RelayClient", "Mosquitto", "RedisTestSupport",
                // Signal-format keys for the key directory's tests.
                "Signal",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        // A real redis-server for tests (RedisServerProcess, bounded waits), shared by the test targets.
        .target(
            name: "RedisTestSupport",
            dependencies: ["RelayStore", .product(name: "NIOCore", package: "swift-nio")],
            path: "Tests/RedisTestSupport",
            swiftSettings: strict
        ),
        // Fuzzing (docs/fuzzing.md; scripts/fuzz builds them with libFuzzer):
        // libFuzzer's entry point, the driver every target's main calls, what
        // the targets on a real Redis share, and one executable per target.
        .target(name: "CLibFuzzer", path: "Tests/Fuzz/CLibFuzzer"),
        .target(name: "FuzzDriver", dependencies: ["CLibFuzzer"], path: "Tests/Fuzz/FuzzDriver", swiftSettings: strict),
        .target(
            name: "FuzzHarness",
            dependencies: [
                "MQTTServer", "RelayStore", "RedisTestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Tests/Fuzz/FuzzHarness",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "FuzzMQTT",
            dependencies: ["FuzzDriver", "MQTT", .product(name: "NIOCore", package: "swift-nio")],
            path: "Tests/Fuzz/FuzzMQTT",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "FuzzChat",
            dependencies: [
                "FuzzDriver", "FuzzHarness", "RelayChat", "RelayCore", "MQTT", "MQTTServer", "Signal",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Tests/Fuzz/FuzzChat",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "FuzzReplication",
            dependencies: [
                "FuzzDriver", "FuzzHarness", "RelayChat", "RelayReplication", "RelayCore", "MQTT", "MQTTServer",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            path: "Tests/Fuzz/FuzzReplication",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "FuzzToken",
            dependencies: [
                "FuzzDriver", "RelayChat", "RelayIdentity", "MQTT", "MQTTServer",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Tests/Fuzz/FuzzToken",
            swiftSettings: strict
        ),
        .testTarget(
            name: "RelayConsoleTests",
            dependencies: ["RelayConsole", "RelayDrill", "RelayLinkEmulator", "RelayTopology", "RelayOps", "RelayCore", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "RelayStoreTests",
            dependencies: [
                "RelayStore", "RedisTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
    ]
)
