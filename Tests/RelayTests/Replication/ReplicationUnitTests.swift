import ArgumentParser
import Foundation
import MQTT
import MQTTServer
import NIOCore
import NIOEmbedded
import RelayCore
import RelayCtlCommands
import RelayOps
import RelayReplication
import RelayTopology
import Testing

/// Layer 1: the pure parts of the replication transport.
@Suite struct PeerCredentialsTests {
    private let credentials = try! PeerCredentials(secret: Array(repeating: 7, count: 32))

    @Test func passwordIsTheHexHMACOfTheRegionsUserName() {
        // HMAC-SHA256(key = 32 × 0x07, "region:us-east"), computed with Python's hmac module.
        #expect(credentials.password(for: "us-east") == "e192fe5d8237bd1b8bb9ac79fec6442b31e12b54dd05f1423bac1b3dc328c9f2")
        #expect(credentials.password(for: "us-east") != credentials.password(for: "eu-west"))
        let other = try! PeerCredentials(secret: Array(repeating: 8, count: 32))
        #expect(other.password(for: "us-east") != credentials.password(for: "us-east"))
    }

    @Test func verifyAcceptsOnlyTheRegionsOwnPassword() {
        let good = Array(credentials.password(for: "us-east").utf8)
        #expect(credentials.verify(password: good, for: "us-east"))
        #expect(credentials.verify(password: Array(credentials.password(for: "us-east").uppercased().utf8), for: "us-east"))
        #expect(!credentials.verify(password: good, for: "eu-west"))
        #expect(!credentials.verify(password: Array(good.dropLast()), for: "us-east"))
        #expect(!credentials.verify(password: Array("not hex at all".utf8), for: "us-east"))
        #expect(!credentials.verify(password: [], for: "us-east"))
    }

    @Test func userNames() {
        #expect(PeerCredentials.username(for: "ap-south") == "region:ap-south")
        #expect(PeerCredentials.region(fromUsername: "region:ap-south") == "ap-south")
        #expect(PeerCredentials.region(fromUsername: "region:") == nil)
        #expect(PeerCredentials.region(fromUsername: "alice") == nil)
    }

    @Test func shortSecretsAreRefused() {
        #expect(throws: PeerCredentialsError.self) { try PeerCredentials(secret: [1, 2, 3]) }
    }

    @Test func secretFileIsHexWithMode0600AndNeverReplaced() throws {
        let directory = FileManager.default.temporaryDirectory.path + "/peer-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let written = PeerCredentials.generate()
        try written.write(toDirectory: directory)
        let path = PeerCredentials.path(inDirectory: directory)
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.count == 65 && text.hasSuffix("\n"))
        let loaded = try PeerCredentials.load(fromDirectory: directory)
        #expect(loaded.password(for: "x") == written.password(for: "x"))
        #expect(throws: PeerCredentialsError.self) { try PeerCredentials.generate().write(toDirectory: directory) }
        #expect(try PeerCredentials.load(fromDirectory: directory).password(for: "x") == written.password(for: "x"))
    }

    @Test func relayctlKeysInitCreatesThePeerSecretOnceOnly() async throws {
        let directory = FileManager.default.temporaryDirectory.path + "/relayctl-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        func run() async throws {
            var command = try RelayCtlCommand.parseAsRoot(["keys", "init", "--dir", directory])
            if var command = command as? any AsyncParsableCommand { try await command.run() } else { try command.run() }
        }
        try await run()
        let first = try PeerCredentials.load(fromDirectory: directory).password(for: "us-east")
        try await run()
        #expect(try PeerCredentials.load(fromDirectory: directory).password(for: "us-east") == first)
    }
}

@Suite struct ReplicationBatchCodecTests {
    private func entry(_ id: UInt64, bytes: Int = 10) -> OutboxEntry {
        var frame = Relay_V1_Frame()
        frame.term = UInt32(id)
        frame.directory.userHomes = ["u\(id)": String(repeating: "x", count: bytes)]
        return OutboxEntry(id: id, appendedMs: 1000 + Int64(id), frame: try! frame.serializedBytes())
    }

    @Test func batchCountRespectsFramesAndBytesButAlwaysTakesOne() {
        let entries = (1...10).map { entry($0) }
        let size = entries[0].frame.count
        #expect(ReplicationBatchCodec.batchCount(entries, limits: .init(maximumFrames: 4, maximumBytes: 1 << 20)) == 4)
        #expect(ReplicationBatchCodec.batchCount(entries, limits: .init(maximumFrames: 100, maximumBytes: size * 3)) == 3)
        #expect(ReplicationBatchCodec.batchCount(entries, limits: .init(maximumFrames: 100, maximumBytes: size * 3 - 1)) == 2)
        #expect(ReplicationBatchCodec.batchCount([entry(1, bytes: 5000)], limits: .init(maximumFrames: 10, maximumBytes: 100)) == 1)
        #expect(ReplicationBatchCodec.batchCount([], limits: .init()) == 0)
    }

    @Test func batchRoundTrips() throws {
        var state = Relay_V1_RegionState()
        state.region = "a"
        state.term = 3
        state.servedBy = "a"
        let entries = (5...7).map { entry($0) }
        let batch = ReplicationBatchCodec.batch(origin: "a", entries: entries, regions: [state])
        let bytes: [UInt8] = try batch.serializedBytes()
        let decoded = try ReplicationBatchCodec.decode(bytes, origin: "a")
        #expect(decoded.frames.map(\.id) == [5, 6, 7])
        #expect(decoded.frames.map(\.frame.term) == [5, 6, 7])
        #expect(decoded.frames.map(\.appendedMs) == [1005, 1006, 1007])
        #expect(decoded.regions == [state])
    }

    @Test func decodeRefusesWhatIsNotAConsecutiveBatchOfItsOrigin() throws {
        func bytes(_ batch: Relay_V1_ReplicationBatch) -> [UInt8] { try! batch.serializedBytes() }
        let good = ReplicationBatchCodec.batch(origin: "a", entries: [entry(1), entry(2)], regions: [])
        #expect(throws: ReplicationError.self) { try ReplicationBatchCodec.decode(bytes(good), origin: "b") }
        let gap = ReplicationBatchCodec.batch(origin: "a", entries: [entry(1), entry(3)], regions: [])
        #expect(throws: ReplicationError.self) { try ReplicationBatchCodec.decode(bytes(gap), origin: "a") }
        let backwards = ReplicationBatchCodec.batch(origin: "a", entries: [entry(2), entry(1)], regions: [])
        #expect(throws: ReplicationError.self) { try ReplicationBatchCodec.decode(bytes(backwards), origin: "a") }
        let zero = ReplicationBatchCodec.batch(origin: "a", entries: [OutboxEntry(id: 0, appendedMs: 0, frame: [])], regions: [])
        #expect(throws: ReplicationError.self) { try ReplicationBatchCodec.decode(bytes(zero), origin: "a") }
        var badFrame = good
        badFrame.frames[1].frame = Data([0xFF, 0xFF, 0xFF])
        #expect(throws: ReplicationError.self) { try ReplicationBatchCodec.decode(bytes(badFrame), origin: "a") }
        #expect(throws: ReplicationError.self) { try ReplicationBatchCodec.decode([0x0A, 0xFF], origin: "a") }
        #expect(throws: ReplicationError.self, "an empty payload names no origin") { try ReplicationBatchCodec.decode([], origin: "a") }
    }

    @Test func topicsAndRegionsProperty() {
        #expect(ReplicationBatchCodec.topic(origin: "us-east") == "repl/us-east")
        #expect(ReplicationBatchCodec.origin(ofTopic: "repl/us-east") == "us-east")
        #expect(ReplicationBatchCodec.origin(ofTopic: "repl/") == nil)
        #expect(ReplicationBatchCodec.origin(ofTopic: "repl/a/b") == nil)
        #expect(ReplicationBatchCodec.origin(ofTopic: "s/a") == nil)
        var state = Relay_V1_RegionState()
        state.region = "b"
        state.term = 2
        state.fenced = true
        let value = ReplicationBatchCodec.regionsValue([state])
        #expect(ReplicationBatchCodec.regions(fromValue: value) == [state])
        #expect(ReplicationBatchCodec.regions(fromValue: "%%%") == nil)
    }
}

@Suite struct InboundPlanTests {
    @Test func skipsWhatWasAppliedAndReportsGaps() {
        #expect(InboundPlan(cursor: 0, ids: [1, 2, 3]) == InboundPlan(skipped: 0, missing: 0))
        #expect(InboundPlan(cursor: 2, ids: [1, 2, 3]) == InboundPlan(skipped: 2, missing: 0))
        #expect(InboundPlan(cursor: 5, ids: [1, 2, 3]).skipped == 3)
        #expect(InboundPlan(cursor: 5, ids: [1, 2, 3]).missing == 0)
        #expect(InboundPlan(cursor: 3, ids: [7, 8]) == InboundPlan(skipped: 0, missing: 3))
        #expect(InboundPlan(cursor: 9, ids: []) == InboundPlan(skipped: 0, missing: 0))
    }

    @Test func refusesToStepOverFramesTheOriginStillHolds() {
        // Batch 4-6 of a pipelined link was refused; 7-8 must not be applied past it.
        let plan = InboundPlan(cursor: 3, ids: [7, 8], originAcknowledged: 3)
        #expect(plan.gap == 4...6)
        #expect(plan.missing == 0)
        // The origin trimmed 4-5 (acknowledged by this region before its Redis lost them)
        // but still holds 6: refused, the origin ships from 6 again.
        #expect(InboundPlan(cursor: 3, ids: [7, 8], originAcknowledged: 5).gap == 6...6)
        // Everything in between is trimmed at the origin: lost for good, applied past.
        #expect(InboundPlan(cursor: 3, ids: [7, 8], originAcknowledged: 6) == InboundPlan(skipped: 0, missing: 3))
        #expect(InboundPlan(cursor: 3, ids: [7, 8], originAcknowledged: 9) == InboundPlan(skipped: 0, missing: 3))
        // No gap, whatever the origin says.
        #expect(InboundPlan(cursor: 3, ids: [4, 5], originAcknowledged: 0) == InboundPlan(skipped: 0, missing: 0))
        #expect(InboundPlan(cursor: 5, ids: [4, 5, 6], originAcknowledged: 3) == InboundPlan(skipped: 2, missing: 0))
    }
}

extension InboundPlan {
    init(skipped: Int, missing: UInt64) {
        self.init(cursor: 0, ids: [])
        self.skipped = skipped
        self.missing = missing
    }
}

@Suite struct ReconnectBackoffTests {
    @Test func doublesUpToTheMaximumAndResets() {
        var backoff = ReconnectBackoff(minimum: .milliseconds(100), maximum: .seconds(2))
        let delays = (0..<7).map { _ in backoff.next() }
        #expect(delays == [.milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800),
                           .milliseconds(1600), .seconds(2), .seconds(2)])
        backoff.reset()
        #expect(backoff.next() == .milliseconds(100))
    }
}

@Suite struct OutboxCapTests {
    @Test func aBrokenOutboxHoldsNothingAndSaysWhy() {
        let broken = OutboxBreak(atMs: 5000, frames: 40, bytes: 900, acknowledged: 10, discarded: 60)
        let status = OutboxStatus(appended: 70, acknowledged: 10, oldestAppendedMs: nil, bytes: 0, broken: broken)
        #expect(status.depth == 0 && status.lagMs(at: 9000) == 0)
        let link = ReplicationLinkState(
            peer: "eu-west", address: "127.0.0.1:7001", connected: true, shipping: true, acknowledged: 10,
            lastShipped: 10, frames: 0, lagMs: 0, broken: broken)
        let text = ReplicationReadiness.describe([link], region: "us-east")
        #expect(text == "eu-west: connected, BROKEN at the outbox cap since 5000 ms (40 frames, 900 bytes held; "
            + "60 frames discarded, nothing shipped): re-seed eu-west, then relayctl outbox reset --region us-east --peer eu-west")
    }

    @Test func defaultCapHoldsHoursOfTheBusiestLink() {
        let cap = OutboxCap()
        #expect(cap.maximumFrames == 4_000_000 && cap.maximumBytes == 1 << 30)
    }
}

@Suite struct OutboxStatusTests {
    @Test func depthAndLag() {
        let status = OutboxStatus(appended: 10, acknowledged: 4, oldestAppendedMs: 1_000)
        #expect(status.depth == 6)
        #expect(status.lagMs(at: 3_500) == 2_500)
        #expect(status.lagMs(at: 500) == 0, "a clock behind the stamp gives no negative lag")
        let empty = OutboxStatus(appended: 4, acknowledged: 4, oldestAppendedMs: nil)
        #expect(empty.depth == 0 && empty.lagMs(at: 9_999) == 0)
    }
}

@Suite struct PeerAuthenticatorTests {
    private let credentials = PeerCredentials.generate()

    private func connect(_ username: String?, _ password: String?) -> ConnectPacket {
        var connect = ConnectPacket(protocolVersion: .v5, clientIdentifier: "x", cleanStart: true)
        connect.username = username
        connect.password = password.map { ByteBuffer(string: $0) }
        return connect
    }

    private func code(_ result: MQTTAuthenticationResult) -> (ReasonCode?, String?) {
        switch result {
        case .accept(let principal): return (nil, principal.attributes[PeerAuthenticator.regionAttribute])
        case .reject(let code, let properties): return (code, properties.reasonString)
        }
    }

    @Test func acceptsOnlyOtherRegionsWithTheirPassword() {
        let authenticator = PeerAuthenticator(region: "b", regions: ["a", "b", "c"], credentials: credentials)
        #expect(code(authenticator.authenticate(connect("region:a", credentials.password(for: "a")))).1 == "a")
        #expect(code(authenticator.authenticate(connect("region:c", credentials.password(for: "c")))).1 == "c")
        #expect(code(authenticator.authenticate(connect("region:a", credentials.password(for: "c")))).0 == .badUserNameOrPassword)
        #expect(code(authenticator.authenticate(connect("region:a", nil))).0 == .badUserNameOrPassword)
        #expect(code(authenticator.authenticate(connect(nil, credentials.password(for: "a")))).0 == .badUserNameOrPassword)
        #expect(code(authenticator.authenticate(connect("alice", "a-device-token"))).0 == .notAuthorized)
        #expect(code(authenticator.authenticate(connect("region:b", credentials.password(for: "b")))).0 == .notAuthorized)
        #expect(code(authenticator.authenticate(connect("region:zz", credentials.password(for: "zz")))).0 == .notAuthorized)
        #expect(code(authenticator.authenticate(connect("alice", "x"))).1?.isEmpty == false, "refusals say why")
    }
}

@Suite struct TopologyPeerAddressTests {
    @Test func throughTheLinksProxyTowardsThePeerElseDirect() {
        let topology = Topology(
            regions: [
                .init(name: "a", settings: "", devices: "127.0.0.1:1", peers: "127.0.0.1:2910", http: "", standby: nil),
                .init(name: "b", settings: "", devices: "127.0.0.1:2", peers: "127.0.0.1:2920", http: "", standby: nil),
                .init(name: "c", settings: "", devices: "127.0.0.1:3", peers: "127.0.0.1:2930", http: "", standby: nil),
            ],
            links: [
                .init(between: ["a", "b"], rttMs: 80, bandwidthKbps: 1000, loss: 0, proxies: [
                    .init(to: "b", listen: "127.0.0.1:7001", control: "127.0.0.1:7101"),
                    .init(to: "a", listen: "127.0.0.1:7002", control: "127.0.0.1:7102"),
                ]),
                .init(between: ["a", "c"], rttMs: 80, bandwidthKbps: 1000, loss: 0, proxies: []),
            ])
        #expect(topology.peerAddress(from: "a", to: "b") == HostPort(host: "127.0.0.1", port: 7001))
        #expect(topology.peerAddress(from: "b", to: "a") == HostPort(host: "127.0.0.1", port: 7002))
        #expect(topology.peerAddress(from: "a", to: "c") == HostPort(host: "127.0.0.1", port: 2930))
        #expect(topology.peerAddress(from: "a", to: "nowhere") == nil)
    }

    @Test func everyNodeOfAPeerWithoutAProxyNodeZeroFirst() {
        var topology = Topology(
            regions: [
                .init(name: "a", settings: "", devices: "127.0.0.1:1", peers: "127.0.0.1:2910", http: "", standby: nil),
                .init(name: "c", settings: "", devices: "127.0.0.1:3", peers: "127.0.0.1:2930", http: "", standby: nil, nodes: 3),
            ],
            links: [.init(between: ["a", "c"], rttMs: 80, bandwidthKbps: 1000, loss: 0, proxies: [])])
        #expect(topology.peerAddresses(from: "a", to: "c") == [2930, 2931, 2932].map { HostPort(host: "127.0.0.1", port: $0) })
        #expect(topology.peerAddresses(from: "c", to: "a") == [HostPort(host: "127.0.0.1", port: 2910)])
        // A proxy fronts every node of its region: it alone is dialled.
        topology.links[0].proxies = [.init(to: "c", listen: "127.0.0.1:7003", control: "127.0.0.1:7103")]
        #expect(topology.peerAddresses(from: "a", to: "c") == [HostPort(host: "127.0.0.1", port: 7003)])
        #expect(topology.peerAddresses(from: "a", to: "nowhere") == [])
    }
}

@Suite struct ReplicationReadinessTests {
    @Test func describesEveryLinkAndADownPeerWithoutFailing() {
        let links = [
            ReplicationLinkState(peer: "b", address: "x:1", connected: true, shipping: true, acknowledged: 9,
                                 lastShipped: 9, frames: 0, lagMs: 0),
            ReplicationLinkState(peer: "c", address: "x:2", connected: false, shipping: true, acknowledged: 3,
                                 lastShipped: 3, frames: 12, lagMs: 3400, lastError: "connection refused"),
        ]
        let text = ReplicationReadiness.describe(links)
        #expect(text.contains("b: connected, 0 frames, lag 0 ms"))
        #expect(text.contains("c: DOWN (connection refused"))
        #expect(text.contains("12 frames, lag 3400 ms"))
    }
}
