import ArgumentParser
import Foundation
import Logging
import MQTTServer
import NIOCore
import NIOConcurrencyHelpers
import NIOPosix
import RelayIdentity
import RelayStore

/// `relay serve`: one node of one region of the chat relay. Devices connect
/// over MQTT with a token; messages, queues and groups live in the region's
/// Redis, so several nodes sharing it behave as one.
public struct ServeCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run one relay node: MQTT for devices, chat state in the region's Redis."
    )

    @OptionGroup var engine: EngineOptions
    @OptionGroup var ops: OpsOptions

    @Option(help: "Region settings file (regions/<name>.json); flags below override it.")
    var config: String?

    @Option(help: "This region's name.")
    var region: String?

    @Option(help: "The region's Redis, HOST:PORT.")
    var redis: HostPort?

    @Option(help: "Connections to Redis per event loop (a request uses its loop's connections; with several, a tick's requests spill to the next past 16 KiB and lose their issue order).")
    var redisConnections: Int = 1

    @Option(help: "Directory holding the deployment's public key (deployment.pub) and the peers' secret (peer.secret).")
    var keyDir: String = "keys"

    @Option(help: "The deployment's topology.json: with more than one region, this node replicates to the others.")
    var topology: String?

    @Option(help: "Queue mirroring to the standby: async (default; loss bounded by the lag) or sync (a send's PUBACK waits for the standby).")
    var mirror: MirrorMode?

    @Option(help: "This node's index among its region's nodes (topology.json \"nodes\"): its peer listener is on the port this far past the region's \"peers\".")
    var node: Int = 0

    public init() {}

    public func run() async throws {
        LogSetup.bootstrap(level: engine.logLevel, format: ops.logFormat)
        let metrics = MetricsSetup.bootstrapPrometheus()
        let logger = Logger(label: "relay.serve")
        var settings = try config.map { try RegionSettings.load(path: $0) } ?? RegionSettings()
        if let region { settings.name = region }
        if let redis {
            settings.redis = redis.description
            settings.redisCluster = nil
        }
        var redisConfiguration: RedisConfiguration
        do {
            redisConfiguration = try settings.redisConfiguration()
        } catch {
            throw ValidationError("\(error)")
        }

        let verifier: TokenVerifier
        do {
            verifier = TokenVerifier(publicKey: try DeploymentPublicKey.load(fromDirectory: keyDir))
        } catch {
            throw ValidationError("cannot read the deployment public key in \(keyDir)/: \(error) (scripts/up creates it; or run relayctl keys init --dir \(keyDir))")
        }

        let group = MultiThreadedEventLoopGroup(numberOfThreads: engine.threads ?? System.coreCount)
        redisConfiguration.connectionCount = redisConnections
        let client = RedisClient(configuration: redisConfiguration, eventLoopGroup: group, logger: logger)
        let store = try ChatStore(redis: client, configuration: settings.chat)
        let regions = try await Regions.start(
            topologyPath: topology, settings: settings, node: node, mirror: mirror ?? settings.mirror ?? .async, keyDir: keyDir,
            store: store, redis: client, redisConfiguration: redisConfiguration, group: group, logger: logger)
        let router = try ChatRouter(store: store, group: group, logger: logger, replicator: regions?.replicator, tokens: verifier)
        regions?.attach(router)
        let subscriber = RedisSubscriber(
            configuration: redisConfiguration,
            cluster: client.clusterRouting,
            eventLoop: group.next(),
            logger: logger,
            onReconnect: { router.wakeAll(); regions?.reload() },
            handler: { channel, payload in
                if channel == RegionAuthority.channel {
                    regions?.reload()
                } else if channel == ChatRouter.keysAnswerChannel {
                    router.keysAnswerPassedOn(payload)
                } else {
                    router.channelMessage(channel, payload: payload)
                }
            }
        )
        router.attach(subscriber)
        let pushes = try startPushes(settings: settings, store: store, replicator: regions?.replicator, group: group, logger: logger)
        let media = try await startMedia(settings: settings, router: router, group: group, logger: logger)

        var configuration = engine.configuration
        // The durable state of a device is its Redis queue, not the MQTT session.
        configuration.maximumSessionExpiry = 0
        // A token's home must be a region of this deployment (this one alone without a topology).
        let deploymentRegions = regions.map { Set($0.replicator.map.regions) } ?? [settings.name]
        let authenticator = TokenAuthenticator(
            verifier: verifier,
            regions: deploymentRegions,
            redirect: { claims in router.redirect(home: claims.home) },
            admit: { claims in await router.admit(user: claims.user, device: claims.device, home: claims.home) }
        )
        let server = MQTTServer(configuration: configuration, router: router, authenticator: authenticator, group: group, logger: logger)
        let listeners = try engine.listeners()
        var checks: [any ReadinessCheck] = [RedisReadiness(client: client), DeadLetterReadiness(deadLetters: router.deadLetters)]
        if let regions {
            checks.append(RegionReadiness(authority: regions.authority, local: settings.name))
            checks.append(ReplicationReadiness(service: regions.service))
        }
        let name = settings.name
        let httpListen = ops.httpListen
        let readiness = checks

        // The node's parts, stopped in the reverse order at SIGTERM/SIGINT
        // or when one fails (NodePart, a swift-service-lifecycle Service).
        var parts: [NodePart] = []
        if let regions {
            parts.append(NodePart("regions", start: {
                try await subscriber.subscribe(channel: RegionAuthority.channel)
                try await subscriber.subscribe(channel: ChatRouter.keysAnswerChannel)
                let address = try await regions.service.start()
                regions.watcher?.start()
                StandardOutput.writeLine("relay serve \(name) peers listening on \(address)")
            }, stop: {
                regions.watcher?.stop()
                await regions.service.shutdown()
            }))
        }
        parts.append(NodePart("push", start: {}, stop: {
            pushes.task.cancel()
            await pushes.notifier.shutdown()
        }))
        parts.append(NodePart("mqtt", start: {
            for listener in try await server.start(listeners) {
                StandardOutput.writeLine("relay serve \(name) listening on \(listener.url)")
            }
        }, stop: {
            await server.shutdown()
        }))
        let http = NIOLockedValueBox<OpsHTTPServer?>(nil)
        let mediaHTTP = NIOLockedValueBox<RegionHTTPServer?>(nil)
        parts.append(NodePart("http", start: {
            if let media, let httpListen {
                // Media on: one Hummingbird listener serves media and the ops endpoints.
                let started = try await RegionHTTPServer.start(
                    listen: httpListen, media: media.endpoint, sendfile: media.sendfile,
                    ops: OpsEndpoints(registry: metrics, checks: readiness, fixed: pushes.httpAnswers),
                    opsPaths: Array(pushes.httpAnswers.keys), group: group, logger: logger)
                mediaHTTP.withLockedValue { $0 = started }
                StandardOutput.writeLine("relay serve \(name) http on \(started.url) (media)")
                return
            }
            let started = try await OpsOptions.startHTTP(
                listen: httpListen, registry: metrics, checks: readiness, group: group, fixed: pushes.httpAnswers)
            http.withLockedValue { $0 = started }
            if let started { StandardOutput.writeLine("relay serve \(name) http on \(started.url)") }
        }, stop: {
            await http.withLockedValue { $0 }?.close()
            await mediaHTTP.withLockedValue { $0 }?.close()
        }))
        if let media {
            parts.append(NodePart("media", start: { media.housekeeping.start() }, stop: { await media.housekeeping.stop() }))
        }
        let timers = NIOLockedValueBox<[RepeatedTask]>([])
        parts.append(NodePart("timers", start: {
            let sweeper = router.startSweeper(every: .seconds(5), on: group.next())
            let presence = router.startPresenceRefresh(every: .seconds(15), on: group.next())
            timers.withLockedValue { $0 = [sweeper, presence] }
        }, stop: {
            for task in timers.withLockedValue({ $0 }) { task.cancel() }
        }))

        let outcome: Result<Void, any Error>
        do {
            try await NodePart.runGroup(parts, logger: logger)
            outcome = .success(())
        } catch {
            outcome = .failure(error)
        }
        logger.info("stopping")
        subscriber.close()
        client.close()
        try await group.shutdownGracefully()
        try outcome.get()
    }
}

/// One region's process settings, `regions/<name>.json`.
struct RegionSettings: Codable {
    var name = "local"
    var redis = "127.0.0.1:6379"
    /// The seed nodes (HOST:PORT) of the Redis Cluster that is the region's
    /// store; nil: `redis` names one Redis (RegionSettings+Redis.swift).
    var redisCluster: [String]?
    var maxSendBytes: Int?
    var retentionDays: Int?
    var maxQueuedPerDevice: Int?
    var maxGroupMembers: Int?
    var maxDevicesPerUser: Int?
    var deliveryWindow: Int?
    var sendBurst: Int?
    var sendsPerSecond: Double?
    var requestBurst: Int?
    var requestsPerSecond: Double?
    var keyFetchBurst: Int?
    var keyFetchesPerSecond: Double?
    var typingBurst: Int?
    var typingPerSecond: Double?
    var mirror: MirrorMode?
    /// Milliseconds queue mirror frames are held in async mode so that a
    /// status acknowledged meanwhile never travels (decision 0033; 0 ships
    /// them at once). Default 100, at most 5,000.
    var mirrorGatherMs: Int?
    /// The cap on each outbox to a peer (decision 0015); 0 for no bound.
    var outboxMaxFrames: UInt64?
    var outboxMaxBytes: UInt64?
    /// Push (docs/push.md): the coalescing window, whether loopback and
    /// private endpoints (and plain http) are accepted, VAPID's contact.
    var pushWindowSeconds: Int?
    var pushAllowPrivateEndpoints: Bool?
    var pushSubject: String?
    /// APNs (docs/push.md): the team's `.p8` key file, its key id, the team
    /// id, and the provider's base URLs (Apple's unless given: tests point
    /// them at a stand-in).
    var pushAPNsKeyFile: String?
    var pushAPNsKeyID: String?
    var pushAPNsTeamID: String?
    var pushAPNsURL: String?
    var pushAPNsSandboxURL: String?
    /// FCM (docs/push.md): the service account's JSON key file and the send
    /// API's base URL (Google's unless given).
    var pushFCMServiceAccountFile: String?
    var pushFCMURL: String?
    /// Certificates (PEM) trusted beside the system's for provider TLS.
    var pushCAFile: String?
    /// Media (docs/media.md): the blob directory (media is off without
    /// it), the largest blob, each user's quota, keeping, URL lifetime,
    /// the disk's reserve, upload buckets, the public base URL.
    var mediaDir: String?
    var mediaMaxBytes: UInt64?
    var mediaQuotaBytes: UInt64?
    var mediaRetentionDays: Int?
    var mediaRetentionSeconds: Int64?
    var mediaIncompleteSeconds: Int64?
    var mediaURLSeconds: Int64?
    var mediaMinFreeBytes: UInt64?
    var mediaUploadBurst: Double?
    var mediaUploadsPerSecond: Double?
    var mediaURL: String?
    var mediaSweepSeconds: Int64?
    /// Plain blob downloads with sendfile(2) (default true; false: through the routes, a chunk at a time).
    var mediaSendfile: Bool?
    /// Uploaded bytes synced to disk before a PATCH is answered (default true; false: answered from the page cache).
    var mediaSync: Bool?
    /// An S3-compatible store for complete blobs (docs/media.md): its
    /// endpoint, bucket, signing region and a JSON file `{"accessKey", "secretKey"}`.
    var mediaS3Endpoint: String?
    var mediaS3Bucket: String?
    var mediaS3Region: String?
    var mediaS3CredentialsFile: String?

    init() {}

    /// Every key may be missing: the defaults above apply.
    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decodeIfPresent(String.self, forKey: .name) ?? name
        redis = try c.decodeIfPresent(String.self, forKey: .redis) ?? redis
        redisCluster = try c.decodeIfPresent([String].self, forKey: .redisCluster)
        maxSendBytes = try c.decodeIfPresent(Int.self, forKey: .maxSendBytes)
        retentionDays = try c.decodeIfPresent(Int.self, forKey: .retentionDays)
        maxQueuedPerDevice = try c.decodeIfPresent(Int.self, forKey: .maxQueuedPerDevice)
        maxGroupMembers = try c.decodeIfPresent(Int.self, forKey: .maxGroupMembers)
        maxDevicesPerUser = try c.decodeIfPresent(Int.self, forKey: .maxDevicesPerUser)
        deliveryWindow = try c.decodeIfPresent(Int.self, forKey: .deliveryWindow)
        sendBurst = try c.decodeIfPresent(Int.self, forKey: .sendBurst)
        sendsPerSecond = try c.decodeIfPresent(Double.self, forKey: .sendsPerSecond)
        requestBurst = try c.decodeIfPresent(Int.self, forKey: .requestBurst)
        requestsPerSecond = try c.decodeIfPresent(Double.self, forKey: .requestsPerSecond)
        keyFetchBurst = try c.decodeIfPresent(Int.self, forKey: .keyFetchBurst)
        keyFetchesPerSecond = try c.decodeIfPresent(Double.self, forKey: .keyFetchesPerSecond)
        typingBurst = try c.decodeIfPresent(Int.self, forKey: .typingBurst)
        typingPerSecond = try c.decodeIfPresent(Double.self, forKey: .typingPerSecond)
        mirror = try c.decodeIfPresent(MirrorMode.self, forKey: .mirror)
        mirrorGatherMs = try c.decodeIfPresent(Int.self, forKey: .mirrorGatherMs)
        if let mirrorGatherMs, !(0...5_000).contains(mirrorGatherMs) {
            throw DecodingError.dataCorruptedError(
                forKey: .mirrorGatherMs, in: c, debugDescription: "mirrorGatherMs must be 0 to 5000 milliseconds, not \(mirrorGatherMs)")
        }
        outboxMaxFrames = try c.decodeIfPresent(UInt64.self, forKey: .outboxMaxFrames)
        outboxMaxBytes = try c.decodeIfPresent(UInt64.self, forKey: .outboxMaxBytes)
        pushWindowSeconds = try c.decodeIfPresent(Int.self, forKey: .pushWindowSeconds)
        pushAllowPrivateEndpoints = try c.decodeIfPresent(Bool.self, forKey: .pushAllowPrivateEndpoints)
        pushSubject = try c.decodeIfPresent(String.self, forKey: .pushSubject)
        pushAPNsKeyFile = try c.decodeIfPresent(String.self, forKey: .pushAPNsKeyFile)
        pushAPNsKeyID = try c.decodeIfPresent(String.self, forKey: .pushAPNsKeyID)
        pushAPNsTeamID = try c.decodeIfPresent(String.self, forKey: .pushAPNsTeamID)
        pushAPNsURL = try c.decodeIfPresent(String.self, forKey: .pushAPNsURL)
        pushAPNsSandboxURL = try c.decodeIfPresent(String.self, forKey: .pushAPNsSandboxURL)
        pushFCMServiceAccountFile = try c.decodeIfPresent(String.self, forKey: .pushFCMServiceAccountFile)
        pushFCMURL = try c.decodeIfPresent(String.self, forKey: .pushFCMURL)
        pushCAFile = try c.decodeIfPresent(String.self, forKey: .pushCAFile)
        mediaDir = try c.decodeIfPresent(String.self, forKey: .mediaDir)
        mediaSendfile = try c.decodeIfPresent(Bool.self, forKey: .mediaSendfile)
        mediaSync = try c.decodeIfPresent(Bool.self, forKey: .mediaSync)
        mediaMaxBytes = try c.decodeIfPresent(UInt64.self, forKey: .mediaMaxBytes)
        mediaQuotaBytes = try c.decodeIfPresent(UInt64.self, forKey: .mediaQuotaBytes)
        mediaRetentionDays = try c.decodeIfPresent(Int.self, forKey: .mediaRetentionDays)
        mediaRetentionSeconds = try c.decodeIfPresent(Int64.self, forKey: .mediaRetentionSeconds)
        mediaIncompleteSeconds = try c.decodeIfPresent(Int64.self, forKey: .mediaIncompleteSeconds)
        mediaURLSeconds = try c.decodeIfPresent(Int64.self, forKey: .mediaURLSeconds)
        mediaMinFreeBytes = try c.decodeIfPresent(UInt64.self, forKey: .mediaMinFreeBytes)
        mediaUploadBurst = try c.decodeIfPresent(Double.self, forKey: .mediaUploadBurst)
        mediaUploadsPerSecond = try c.decodeIfPresent(Double.self, forKey: .mediaUploadsPerSecond)
        mediaURL = try c.decodeIfPresent(String.self, forKey: .mediaURL)
        mediaSweepSeconds = try c.decodeIfPresent(Int64.self, forKey: .mediaSweepSeconds)
        mediaS3Endpoint = try c.decodeIfPresent(String.self, forKey: .mediaS3Endpoint)
        mediaS3Bucket = try c.decodeIfPresent(String.self, forKey: .mediaS3Bucket)
        mediaS3Region = try c.decodeIfPresent(String.self, forKey: .mediaS3Region)
        mediaS3CredentialsFile = try c.decodeIfPresent(String.self, forKey: .mediaS3CredentialsFile)
    }

    /// How long queue mirror frames are held in async mode (default 100 ms).
    var mirrorGather: TimeAmount {
        .milliseconds(Int64(mirrorGatherMs ?? 100))
    }

    /// The cap on each outbox these settings give.
    var outboxCap: OutboxCap {
        OutboxCap(maximumFrames: outboxMaxFrames ?? OutboxCap.defaultFrames,
                  maximumBytes: outboxMaxBytes ?? OutboxCap.defaultBytes)
    }

    static func load(path: String) throws -> RegionSettings {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw ValidationError("cannot read \(path): \(error.localizedDescription)")
        }
        do {
            return try JSONDecoder().decode(RegionSettings.self, from: data)
        } catch {
            throw ValidationError("\(path) is not valid region settings: \(error)")
        }
    }

    /// The chat limits these settings give.
    var chat: ChatConfiguration {
        var c = ChatConfiguration()
        c.region = name
        if let maxSendBytes { c.maximumSendBytes = maxSendBytes }
        if let retentionDays { c.retentionSeconds = retentionDays * 24 * 3600 }
        if let maxQueuedPerDevice { c.maximumQueuedPerDevice = maxQueuedPerDevice }
        if let maxGroupMembers { c.maximumGroupMembers = maxGroupMembers }
        if let maxDevicesPerUser { c.maximumDevicesPerUser = maxDevicesPerUser }
        if let deliveryWindow { c.deliveryWindow = deliveryWindow }
        if let sendBurst { c.sendBurst = sendBurst }
        if let sendsPerSecond { c.sendsPerSecond = sendsPerSecond }
        if let requestBurst { c.requestBurst = requestBurst }
        if let requestsPerSecond { c.requestsPerSecond = requestsPerSecond }
        if let keyFetchBurst { c.keyFetchBurst = keyFetchBurst }
        if let keyFetchesPerSecond { c.keyFetchesPerSecond = keyFetchesPerSecond }
        if let typingBurst { c.typingBurst = typingBurst }
        if let typingPerSecond { c.typingPerSecond = typingPerSecond }
        return c
    }
}
