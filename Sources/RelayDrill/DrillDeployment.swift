import Foundation
import MetricsScrape
import NIOCore
import NIOPosix
import RelayIdentity
import RelayLinkEmulator
import RelayOps
import RelayTopology

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The deployment a drill runs against, read and checked before anything is
/// touched: the topology, the drilled region and its standby, the region's
/// mirror mode, the deployment key, and the region's processes under the run
/// directory (`<run-dir>/<region>/relay-<i>.pid`, `redis.pid`, and the
/// executable `start` that scripts/up writes).
struct DrillDeployment: Sendable {
    let topologyPath: String
    let topology: Topology
    /// The drilled region.
    let region: Topology.Region
    /// The region that takes over from it.
    let standby: Topology.Region
    /// The drilled region's settings file, as found.
    let settingsPath: String
    /// The drilled region's mirror mode, from its settings file.
    let mirror: MirrorMode
    /// Whether the drilled region keeps media (`mediaDir` in its settings file).
    let media: Bool
    /// Signs the drill's device tokens.
    let key: DeploymentKey
    /// `<run-dir>/<region>`.
    let runDirectory: String

    /// Reads and checks everything a drill of `region` needs; the errors say what to fix.
    static func load(region name: String, mode: MirrorMode?, partition: Bool, automatic: Bool = false,
                     topologyPath: String, keyDir: String, runDir: String) async throws -> DrillDeployment {
        let topology: Topology
        do {
            topology = try Topology.load(path: topologyPath)
        } catch {
            throw RelayCtlError("cannot read \(topologyPath): \(error); relayctl topology check --file \(topologyPath) explains")
        }
        guard let region = topology.region(named: name) else {
            throw RelayCtlError("no region \(name) in \(topologyPath) (regions: \(topology.regions.map(\.name).joined(separator: ", ")))")
        }
        guard let standbyName = region.standby, let standby = topology.region(named: standbyName) else {
            throw RelayCtlError("region \(name) has no standby in \(topologyPath): there is nothing to fail over to")
        }
        let directory = URL(fileURLWithPath: topologyPath).deletingLastPathComponent()
        let settingsPath = region.settings.hasPrefix("/") ? region.settings : directory.appendingPathComponent(region.settings).path
        let settings: RegionSettings
        do {
            settings = try RegionSettings.load(path: settingsPath)
        } catch {
            throw RelayCtlError("cannot read the settings of \(name): \(error)")
        }
        let mirror = settings.mirror ?? .async
        if let mode, mode != mirror {
            throw RelayCtlError("""
                \(name) mirrors its queues \(mirror.rawValue)ly (\(settingsPath)\(settings.mirror == nil ? " sets no \"mirror\"; async is the default" : "")), \
                but the drill was asked for --mode \(mode.rawValue): set "mirror": "\(mode.rawValue)" in \(settingsPath) \
                and restart the region (or run its relays with relay serve --mirror \(mode.rawValue)), or drop --mode
                """)
        }
        let key: DeploymentKey
        do {
            key = try DeploymentKey.load(fromDirectory: keyDir)
        } catch {
            throw RelayCtlError("no usable deployment key in \(keyDir)/ (\(error)): the drill signs its devices' tokens with it; pass --key-dir or run relayctl keys init")
        }
        let runDirectory = URL(fileURLWithPath: runDir).appendingPathComponent(name).path
        let deployment = DrillDeployment(topologyPath: topologyPath, topology: topology, region: region, standby: standby,
                                         settingsPath: settingsPath, mirror: mirror, media: settings.mediaDir != nil, key: key,
                                         runDirectory: runDirectory)
        if automatic && topology.watchConfiguration == nil {
            throw RelayCtlError("""
                the failover of \(topologyPath) is not automatic: add "failover": {"automatic": true} to it \
                and restart the regions, or drop --automatic
                """)
        }
        if partition {
            // An automatic partition drill cuts the region off from every other region.
            let cut = automatic ? topology.regions.map(\.name).filter { $0 != name } : [standby.name]
            for other in cut {
                guard let link = topology.link(between: name, and: other), !link.proxies.isEmpty,
                      link.proxies.allSatisfy({ HostPort(argument: $0.control) != nil }) else {
                    throw RelayCtlError("the link \(name)<->\(other) has no delay proxies with control addresses in \(topologyPath): a partition drill cuts the link through them")
                }
            }
        } else {
            try deployment.checkRunDirectory()
        }
        for other in topology.regions {
            guard let address = HostPort(argument: other.devices), await Self.listens(address) else {
                throw RelayCtlError("region \(other.name) is not up: nothing accepts connections on \(other.devices) (scripts/up starts the deployment)")
            }
        }
        return deployment
    }

    /// The region's pid files: its relay nodes' and its redis-server's.
    var pidFiles: [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: runDirectory)) ?? []
        return names.filter { ($0.hasPrefix("relay-") && $0.hasSuffix(".pid")) || $0 == "redis.pid" }.sorted()
            .map { URL(fileURLWithPath: runDirectory).appendingPathComponent($0).path }
    }

    /// `<run-dir>/<region>/start`.
    var startScript: String { URL(fileURLWithPath: runDirectory).appendingPathComponent("start").path }

    private func checkRunDirectory() throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: runDirectory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw RelayCtlError("no run directory \(runDirectory): the drill kills the processes whose pids scripts/up writes there (start the deployment with scripts/up, or pass --run-dir)")
        }
        let files = pidFiles
        guard files.contains(where: { $0.hasSuffix("/redis.pid") }), files.contains(where: { !$0.hasSuffix("/redis.pid") }) else {
            throw RelayCtlError("\(runDirectory) holds no relay-<i>.pid and redis.pid: is \(region.name) running (scripts/up)?")
        }
        guard !Self.livePids(files).isEmpty else {
            throw RelayCtlError("\(region.name) is not running: no process of \(files.joined(separator: ", ")) is alive (scripts/up starts it)")
        }
        guard FileManager.default.isExecutableFile(atPath: startScript) else {
            throw RelayCtlError("\(startScript) is missing or not executable: the drill restarts \(region.name) with it after the failover (scripts/up writes it)")
        }
    }

    /// The pids in `files` that name a live process.
    static func livePids(_ files: [String]) -> [Int32] {
        files.compactMap { file in
            guard let text = try? String(contentsOfFile: file, encoding: .utf8),
                  let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0,
                  kill(pid, 0) == 0 else { return nil }
            return pid
        }
    }

    /// SIGKILLs the region's relays and redis-server; returns the pids killed.
    func killRegion() throws -> [Int32] {
        let pids = Self.livePids(pidFiles)
        guard !pids.isEmpty else { throw RelayCtlError("\(region.name) has no live process left to kill in \(runDirectory)") }
        for pid in pids { kill(pid, SIGKILL) }
        return pids
    }

    /// Waits (bounded) until nothing accepts device connections on the region's address.
    func waitUntilDown(timeout: Duration) async {
        guard let address = HostPort(argument: region.devices) else { return }
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline, await Self.listens(address) {
            try? await Task.sleep(for: .milliseconds(50))  // polling a port another process closes: no event to await
        }
    }

    /// Runs `<run-dir>/<region>/start` (output in `drill-start.log` beside it)
    /// and waits until it exits, then until the region accepts devices.
    func restartRegion(timeout: Duration) async throws {
        let log = URL(fileURLWithPath: runDirectory).appendingPathComponent("drill-start.log").path
        let status: Int32
        do {
            status = try await ScriptRunner.run(startScript, output: log, timeout: timeout)
        } catch is AwaitableState<Int32?>.TimedOut {
            throw RelayCtlError("\(startScript) did not finish within \(timeout); see \(log)")
        }
        guard status == 0 else { throw RelayCtlError("\(startScript) failed (exit \(status)); see \(log)") }
        guard let address = HostPort(argument: region.devices) else { return }
        let deadline = ContinuousClock.now + timeout
        while !(await Self.listens(address)) {
            guard ContinuousClock.now < deadline else {
                throw RelayCtlError("\(region.name) does not accept devices on \(region.devices) after \(startScript); see \(log)")
            }
            try await Task.sleep(for: .milliseconds(50))  // polling a port another process opens: no event to await
        }
    }

    /// Sends `command` (cut, heal) to both delay proxies between the region
    /// and its standby, or, `isolating` it, of every link of the region.
    func link(_ command: LinkControlCommand, isolating: Bool = false) async throws {
        let others = isolating ? topology.regions.map(\.name).filter { $0 != region.name } : [standby.name]
        for other in others {
            guard let link = topology.link(between: region.name, and: other) else { continue }
            for proxy in link.proxies {
                guard let control = HostPort(argument: proxy.control) else { continue }
                let reply = try await LinkControlClient.exchange(command.line, with: control)
                if reply.hasPrefix("error") { throw RelayCtlError("\(proxy.control): \(reply)") }
            }
        }
    }

    /// Waits (bounded) until the region's `/readyz` says it has no write
    /// lease (automatic failover, cut off); false when it never does.
    func fencedItself(timeout: Duration = .seconds(10)) async -> Bool {
        guard let address = HostPort(argument: region.http) else { return false }
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let body = try? await PlainHTTP.get("/readyz", host: address.host, port: address.port), body.contains("no write lease") {
                return true
            }
            try? await Task.sleep(for: .milliseconds(100))  // polling another process's endpoint: no event to await
        }
        return false
    }

    /// Whether something accepts TCP connections on `address` (within a second).
    static func listens(_ address: HostPort) async -> Bool {
        do {
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(.seconds(1))
                .connect(host: address.host, port: address.port).get()
            try? await channel.close()
            return true
        } catch {
            return false
        }
    }
}
