import ArgumentParser
import Foundation
import Hummingbird
import Logging
import RelayOps
import RelayTopology
import ServiceLifecycle
import Synchronization

/// `relayctl console --listen HOST:PORT`: the operations console, a web page
/// of the deployment and its drills (docs/operability.md, "Console").
public struct ConsoleCommand: AsyncParsableCommand {
    /// Name and help text.
    public static let configuration = CommandConfiguration(
        commandName: "console",
        abstract: "Serve the operations console: the deployment live (regions, terms, links, lag, outboxes) and drills started from the page, with their reports and plots.",
        discussion: """
            Reads every region of the topology once a second (its /metrics and /readyz, the region states in \
            its Redis, the delay proxies' status) and pushes the page's updates as server-sent events. Drills \
            started from the page run in this process, one at a time, as relayctl drill failover runs them \
            (so the console needs the key directory and the run directory of scripts/up); each finished drill \
            is kept in --drills-dir as <id>.json and <id>.html. Every request needs the operator token of \
            <key-dir>/console.token (relayctl keys init creates it): Authorization: Bearer TOKEN, or open \
            http://HOST:PORT/?token=TOKEN once in a browser, which keeps it in a cookie.
            """
    )

    @Option(help: "Address to serve the console on, HOST:PORT (port 0: any free port, printed).")
    var listen: HostPort = HostPort(host: "127.0.0.1", port: 8200)

    @Option(help: "The topology file.")
    var topology: String = "topology.json"

    @Option(help: "Directory holding console.token (the operator token) and deployment.key (drills sign their devices' tokens).")
    var keyDir: String = "keys"

    @Option(help: "Directory of the regions' pid files and start scripts (scripts/up's run/), for failover drills.")
    var runDir: String = "run"

    @Option(help: "Directory where finished drills are kept.")
    var drillsDir: String = "run/console/drills"

    /// For ArgumentParser, which sets the options.
    public init() {}

    /// Serves until SIGINT or SIGTERM.
    public func run() async throws {
        var logger = Logger(label: "relayctl.console")
        logger.logLevel = .info
        let token: String
        do {
            token = try ConsoleTokenFile.load(fromDirectory: keyDir)
        } catch {
            throw ConsoleError(error.description)
        }
        let topology: Topology
        do {
            topology = try Topology.load(path: self.topology)
        } catch {
            throw ConsoleError("cannot read \(self.topology): \(error); relayctl topology check --file \(self.topology) explains")
        }
        let regions = topology.regions.map(\.name)
        let events = ConsoleEvents()
        let publisher = DrillsPublisher(events: events)
        let desk = try DrillDesk(
            directory: drillsDir, deployment: .init(topologyPath: self.topology, keyDir: keyDir, runDir: runDir), logger: logger,
            changed: { publisher.publish() })
        publisher.attach(desk)
        publisher.publish()
        let monitor = DeploymentMonitor(topology: topology, topologyPath: self.topology, events: events, logger: logger)
        let router = ConsoleRouter.make(auth: OperatorAuth(token: token), monitor: monitor, desk: desk, events: events, regions: regions)
        let tokenPath = ConsoleTokenFile.path(inDirectory: keyDir)
        let host = listen.host
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(listen.host, port: listen.port), serverName: "relay-console"),
            services: [monitor],
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                StandardOutput.writeLine("relayctl console listening on http://\(host):\(port)/ (operator token in \(tokenPath))")
            },
            logger: logger
        )
        try await app.runService()
    }
}

/// Publishes the `drills` event from the desk's records whenever the desk changes.
final class DrillsPublisher: Sendable {
    private let events: ConsoleEvents
    private let desk = Mutex<DrillDesk?>(nil)

    init(events: ConsoleEvents) {
        self.events = events
    }

    /// The desk to read (it calls `publish` once attached).
    func attach(_ desk: DrillDesk) {
        self.desk.withLock { $0 = desk }
    }

    /// Sends the drills fragment again.
    func publish() {
        guard let desk = desk.withLock({ $0 }) else { return }
        events.publish(.init(name: "drills", data: ConsoleHTML.drillsFragment(desk.records)))
    }
}

/// A reason the console cannot start, printed as "Error: <message>"; the message says what to fix.
struct ConsoleError: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }
}
