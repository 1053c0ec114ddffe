import ArgumentParser
import Foundation
import RelayDrill
import RelayOps
import RelayTopology

/// `relayctl drill`: failure drills against a running deployment.
public struct RelayCtlDrillCommand: AsyncParsableCommand {
    /// Name and help text.
    public static let configuration = CommandConfiguration(
        commandName: "drill",
        abstract: "Run a failure drill against the running deployment and report what devices received.",
        subcommands: [Failover.self]
    )

    /// For ArgumentParser, which sets the options.
    public init() {}

    /// `relayctl drill failover --region A`.
    public struct Failover: AsyncParsableCommand {
        /// Name and help text.
        public static let configuration = CommandConfiguration(
            commandName: "failover",
            abstract: "Kill a region hard, fail it over, restart and fail it back under traffic; report RTO, RPO, duplicates, order and lag.",
            discussion: """
                Devices (homes round robin over the regions, each in a 1:1 conversation with a device of another \
                region) send at --rate in all. Once every device has received something, the region's relays and \
                redis-server are SIGKILLed (pids in <run-dir>/<region>/relay-<i>.pid and redis.pid), the region is \
                failed over to its standby, traffic goes on for --duration seconds, the region is restarted with \
                <run-dir>/<region>/start and failed back, its devices come home, and the drill waits (bounded) \
                for every acknowledged send. With --partition the link between the region and its standby is cut \
                instead (through its delay proxies) for --duration seconds and healed; nothing is killed. \
                With --automatic no failover or failback command is given: the deployment (its topology has \
                "failover": {"automatic": true}) must notice the loss, promote the standby and fail back by itself; \
                with --partition --automatic the region is cut off from every other region and must fence itself. \
                --repeat N runs the drill N times and ends with a summary (RTO min/median/max, losses in all). \
                The mirror mode is the region's setting ("mirror" in its settings file); --mode only checks it. \
                Exit status 0 when the drill ran, whatever it found.
                """
        )

        @Option(help: "The region to drill.")
        var region: String

        @Option(help: "The mirror mode the region must have: async or sync (checked against its settings file).")
        var mode: MirrorMode?

        @Option(help: "Devices (users), spread over the regions.")
        var devices: Int = 6

        @Option(help: "Messages per second, over all devices.")
        var rate: Double = 20

        @Option(help: "Seconds of traffic while the region is away (failed over, or cut off).")
        var duration: Double = 10

        @Flag(help: "Cut the link between the region and its standby instead of killing the region.")
        var partition = false

        @Flag(help: "Give no failover or failback command: the deployment must act by itself (automatic failover).")
        var automatic = false

        @Option(name: .customLong("repeat"), help: "Run the drill this many times, then print a summary.")
        var repetitions: Int = 1

        @Option(help: "Also write the report as one self-contained HTML page with plots (with --repeat, FILE gets -<run> before its extension).")
        var html: String?

        @Flag(help: "Print the report as JSON.")
        var json = false

        @Option(help: "The topology file.")
        var topology: String = "topology.json"

        @Option(help: "Directory holding deployment.key (the drill issues its devices' tokens).")
        var keyDir: String = "keys"

        @Option(help: "Directory of the regions' pid files and start scripts (scripts/up's run/).")
        var runDir: String = "run"

        /// For ArgumentParser, which sets the options.
        public init() {}

        /// `report.html` for run 2 is `report-2.html`.
        static func numbered(_ path: String, _ run: Int) -> String {
            let name = path.split(separator: "/", omittingEmptySubsequences: false).last ?? ""
            guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return "\(path)-\(run)" }
            let ext = name[name.index(after: dot)...]
            return "\(path.dropLast(ext.count + 1))-\(run).\(ext)"
        }

        /// Checks the numbers.
        public func validate() throws {
            if devices < 2 { throw ValidationError("--devices must be at least 2") }
            if !(rate > 0) { throw ValidationError("--rate must be positive") }
            if !(duration > 0) { throw ValidationError("--duration must be positive") }
            if !(1...100).contains(repetitions) { throw ValidationError("--repeat must be from 1 to 100") }
        }

        /// Runs the drill and prints the report.
        public func run() async throws {
            let options = FailoverDrill.Options(
                region: region, mode: mode, devices: devices, rate: rate, duration: duration, partition: partition, automatic: automatic,
                topologyPath: topology, keyDir: keyDir, runDir: runDir,
                progress: { line in FileHandle.standardError.write(Data(("drill: " + line + "\n").utf8)) })
            var reports: [DrillReport] = []
            for run in 1...repetitions {
                if repetitions > 1 { options.progress?("run \(run) of \(repetitions)") }
                let report = try await FailoverDrill(options: options).run()
                StandardOutput.writeLine(json ? report.json : report.text)
                reports.append(report)
                if let html {
                    let path = repetitions > 1 ? Self.numbered(html, run) : html
                    do {
                        try DrillHTML.page(report).write(toFile: path, atomically: true, encoding: .utf8)
                    } catch {
                        throw RelayCtlError("cannot write the HTML report to \(path): \(error.localizedDescription)")
                    }
                }
            }
            if repetitions > 1 {
                let summary = DrillSummary(reports)
                StandardOutput.writeLine(json ? summary.json : "\n" + summary.text)
            }
        }
    }
}
