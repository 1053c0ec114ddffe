import ArgumentParser
import Foundation
import Logging
import MQTTServer
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import RelayChat
import RelayIdentity
import RelayOps
import RelayReplication
import RelayStore
import RelayTopology

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
