import Foundation
import Logging
import RelayDrill
import Synchronization

/// Drills started from the console: one at a time (a drill kills or cuts off
/// a region), run in this process with the code of `relayctl drill
/// failover`, watched line by line, and each finished one kept in memory and
/// as `<directory>/<id>.json` (this record) and `<id>.html` (the report page
/// with its plots), read back when the console starts again.
package final class DrillDesk: Sendable {
    /// One drill.
    package struct Record: Sendable, Codable, Equatable {
        /// Where it is.
        package enum State: String, Sendable, Codable {
            case running, done, failed
        }

        /// `drill-<ms since 1970>`.
        package var id: String
        package var request: DrillRequest
        /// When it started, ms since 1970.
        package var startedAtMs: Double
        package var finishedAtMs: Double?
        package var state: State
        /// The drill's progress lines.
        package var progress: [String]
        /// What it found, once done.
        package var report: DrillReport?
        /// Why it could not run, once failed.
        package var error: String?
    }

    /// Where the drills run: what `FailoverDrill.Options` needs besides the request.
    package struct Deployment: Sendable {
        package var topologyPath: String
        package var keyDir: String
        package var runDir: String

        /// The deployment of `topologyPath`, its key directory and run directory.
        package init(topologyPath: String, keyDir: String, runDir: String) {
            self.topologyPath = topologyPath
            self.keyDir = keyDir
            self.runDir = runDir
        }
    }

    /// A drill could not be started.
    package struct Busy: Error, Sendable, CustomStringConvertible {
        /// Which drill is running.
        package var description: String
    }

    private struct State {
        /// Oldest first.
        var records: [Record] = []
        var running: String?
    }

    private let state: Mutex<State>
    private let directory: String
    private let deployment: Deployment
    private let changed: @Sendable () -> Void
    private let logger: Logger
    /// Runs a request; the drill of `relayctl drill failover` unless a test puts another.
    private let runner: @Sendable (FailoverDrill.Options) async throws -> DrillReport

    /// A desk keeping drills in `directory` (created if missing; drills found
    /// there are loaded); `changed` is called after every change.
    package init(directory: String, deployment: Deployment, logger: Logger,
                 runner: @escaping @Sendable (FailoverDrill.Options) async throws -> DrillReport = { try await FailoverDrill(options: $0).run() },
                 changed: @escaping @Sendable () -> Void) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        self.directory = directory
        self.deployment = deployment
        self.logger = logger
        self.runner = runner
        self.changed = changed
        var loaded: [Record] = []
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        for name in names where name.hasPrefix("drill-") && name.hasSuffix(".json") {
            let path = URL(fileURLWithPath: directory).appendingPathComponent(name).path
            guard let data = FileManager.default.contents(atPath: path),
                  var record = try? JSONDecoder().decode(Record.self, from: data) else {
                logger.warning("console: not a drill record, skipped", metadata: ["path": "\(path)"])
                continue
            }
            if record.state == .running {
                // The console stopped while it ran.
                record.state = .failed
                record.error = record.error ?? "the console stopped while the drill ran"
            }
            loaded.append(record)
        }
        self.state = Mutex(State(records: loaded.sorted { $0.startedAtMs < $1.startedAtMs }))
    }

    /// Every drill, oldest first.
    package var records: [Record] {
        state.withLock { $0.records }
    }

    /// The drill `id`, if kept.
    package func record(id: String) -> Record? {
        state.withLock { $0.records.first { $0.id == id } }
    }

    /// Starts `request` in the background; refused while another drill runs.
    package func start(_ request: DrillRequest) throws(Busy) -> Record {
        let now = Date().timeIntervalSince1970 * 1000
        let record = Record(id: "drill-\(Int64(now))", request: request, startedAtMs: now, state: .running, progress: [])
        let refusal: String? = state.withLock { state in
            if let running = state.running { return "drill \(running) is running: wait until it finishes" }
            // Ids are ms: two drills in one ms cannot happen while only one runs, but be sure.
            if state.records.contains(where: { $0.id == record.id }) { return "a drill started this very millisecond: try again" }
            state.running = record.id
            state.records.append(record)
            return nil
        }
        if let refusal { throw Busy(description: refusal) }
        changed()
        let deployment = self.deployment
        let id = record.id
        let options = FailoverDrill.Options(
            region: request.region, mode: request.mode, devices: request.devices, rate: request.rate, duration: request.duration,
            partition: request.kind == .partition, automatic: request.automatic,
            topologyPath: deployment.topologyPath, keyDir: deployment.keyDir, runDir: deployment.runDir,
            progress: { [weak self] line in self?.update(id) { $0.progress.append(line) } })
        logger.info("console: drill started", metadata: ["id": "\(id)", "drill": "\(request.summary)"])
        let runner = self.runner
        Task {
            do {
                let report = try await runner(options)
                self.finish(id) { record in
                    record.state = .done
                    record.report = report
                }
            } catch {
                self.finish(id) { record in
                    record.state = .failed
                    record.error = "\(error)"
                }
            }
        }
        return record
    }

    private func update(_ id: String, _ change: (inout Record) -> Void) {
        state.withLock { state in
            guard let index = state.records.firstIndex(where: { $0.id == id }) else { return }
            change(&state.records[index])
        }
        changed()
    }

    /// Saves the finished record, then shows it and lets the next drill start.
    private func finish(_ id: String, _ change: (inout Record) -> Void) {
        guard var record = record(id: id) else { return }
        change(&record)
        record.finishedAtMs = Date().timeIntervalSince1970 * 1000
        save(record)
        let finished = record
        state.withLock { state in
            state.running = nil
            if let index = state.records.firstIndex(where: { $0.id == id }) { state.records[index] = finished }
        }
        changed()
    }

    /// Writes `<id>.json` and, with a report, `<id>.html`; a failure is logged (the drill stays in memory).
    private func save(_ record: Record) {
        let base = URL(fileURLWithPath: directory).appendingPathComponent(record.id)
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            try encoder.encode(record).write(to: base.appendingPathExtension("json"), options: .atomic)
            if let report = record.report {
                try DrillHTML.page(report).write(to: base.appendingPathExtension("html"), atomically: true, encoding: .utf8)
            }
            logger.info("console: drill finished", metadata: ["id": "\(record.id)", "state": "\(record.state.rawValue)", "saved": "\(base.path).json"])
        } catch {
            logger.error("console: cannot save the drill", metadata: ["id": "\(record.id)", "error": "\(error)"])
        }
    }
}
