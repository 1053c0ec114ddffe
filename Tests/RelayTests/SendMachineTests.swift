import Foundation
import MQTT
import MQTTServer
@testable import RelayChat
import RelayCore
import Testing

/// The decisions of one device's send, event by event, without a store,
/// a rate limiter or a region (decision 0031).
@Suite struct SendMachineTests {
    typealias Machine = SendMachine

    static let standbys: [String: String?] = ["us-east": "eu-west", "eu-west": "us-east", "ap-south": "eu-west"]

    func payload(id: String = "m1", ciphertext: [UInt8] = [1, 2, 3]) -> [UInt8] {
        var send = Relay_V1_Send()
        send.clientMessageID = id
        send.ciphertext = Data(ciphertext)
        return (try? send.serializedBytes()) ?? []
    }

    func machine(_ conversation: String = "alice~bob", user: String = "alice", payload: [UInt8]? = nil, replicated: Bool = false) -> Machine {
        Machine(.init(conversation: conversation, user: user, device: "a1", payload: payload ?? self.payload()), limits: SendLimits(), replicated: replicated)
    }

    func refusal(_ action: Machine.Action) -> (code: ErrorCode, id: String, reason: ReasonCode)? {
        guard case .finish(let ack, let effects) = action, let error = effects.refusal else { return nil }
        return (error.code, effects.refusedClientMessageID, ack.reasonCode)
    }

    @Test func theRateLimitComesFirstAndItsRefusalNamesTheSend() {
        var m = machine()
        guard case .checkRate(let device) = m.start() else { Issue.record("not the rate limit first"); return }
        #expect(device == "a1")
        let refused = refusal(m.admitted(ChatError(.rateLimited, "slow down"), nowMilliseconds: 1))
        #expect(refused?.code == .rateLimited)
        #expect(refused?.id == "m1")
        #expect(refused?.reason == .quotaExceeded)
    }

    @Test func anAdmittedSendIsValidatedByRelayCoreBeforeAnythingIsStored() {
        // Not a member of the 1:1 its id names.
        var outsider = machine(user: "carol")
        _ = outsider.start()
        #expect(refusal(outsider.admitted(nil, nowMilliseconds: 1))?.code == .notMember)
        // Not a conversation id.
        var bad = machine("not a conversation!")
        #expect(refusal(bad.admitted(nil, nowMilliseconds: 1))?.code == .badRequest)
        // No ciphertext: the client message id still names the refused send.
        var empty = machine(payload: payload(id: "m9", ciphertext: []))
        let refused = refusal(empty.admitted(nil, nowMilliseconds: 1))
        #expect(refused?.code == .badRequest)
        #expect(refused?.id == "m9")
        // Not a Send at all.
        var garbage = machine(payload: [0xFF, 0xFF, 0xFF])
        #expect(refusal(garbage.admitted(nil, nowMilliseconds: 1))?.code == .badRequest)
    }

    @Test func oneRegionStoresThenTellsFansOutAndSharesPresenceOnTheFirstMessage() throws {
        var m = machine()
        guard case .store(let accept) = m.admitted(nil, nowMilliseconds: 42) else { Issue.record("not stored"); return }
        #expect(accept.conversation == "alice~bob")
        #expect(accept.directPeer == "bob")
        #expect(accept.nowMilliseconds == 42)
        guard case .finish(let ack, let effects) = m.stored(.init(duplicate: false, epoch: 1, seq: 1)) else { Issue.record("not finished"); return }
        #expect(ack.reasonCode == .success)
        #expect(effects.refusal == nil)
        #expect(effects.countAccepted)
        let stored = try #require(effects.stored)
        #expect(stored.sequenced.kind == .sequenced)
        #expect(stored.sequenced.seq == 1)
        #expect(stored.sequenced.clientMessageID == "m1")
        #expect(stored.fanOut?.seq == 1)
        #expect(stored.fanOut?.device == "a1")
        #expect(stored.shareMembership == ["alice", "bob"])
    }

    @Test func aDuplicateIsToldAgainButNotFannedOutAgain() throws {
        var m = machine()
        _ = m.admitted(nil, nowMilliseconds: 1)
        guard case .finish(_, let effects) = m.stored(.init(duplicate: true, epoch: 1, seq: 7)) else { Issue.record("not finished"); return }
        let stored = try #require(effects.stored)
        #expect(stored.sequenced.seq == 7)
        #expect(stored.fanOut == nil)
        #expect(stored.shareMembership == nil)
    }

    @Test func laterMessagesAndGroupsShareNoPresence() throws {
        var later = machine()
        _ = later.admitted(nil, nowMilliseconds: 1)
        guard case .finish(_, let effects) = later.stored(.init(duplicate: false, epoch: 1, seq: 2)) else { Issue.record("not finished"); return }
        #expect(try #require(effects.stored).shareMembership == nil)
        var group = machine("gabcdef")
        guard case .store(let accept) = group.admitted(nil, nowMilliseconds: 1) else { Issue.record("not stored"); return }
        #expect(accept.directPeer == "")
        guard case .finish(_, let groupEffects) = group.stored(.init(duplicate: false, epoch: 1, seq: 1)) else { Issue.record("not finished"); return }
        #expect(try #require(groupEffects.stored).shareMembership == nil)
    }

    @Test func aStoreFailureIsRefusedWithItsCode() {
        var m = machine()
        _ = m.admitted(nil, nowMilliseconds: 1)
        let refused = refusal(m.failed(ChatError(.staleDevices, "device lists changed")))
        #expect(refused?.code == .staleDevices)
        #expect(refused?.id == "m1")
        var down = machine()
        _ = down.admitted(nil, nowMilliseconds: 1)
        #expect(refusal(down.failed(CancellationError()))?.code == .unavailable)
    }

    @Test func acrossRegionsTheRouteDecides() {
        let map = RegionMap(local: "us-east", standbys: Self.standbys)
        // Homed here: sequenced here.
        var here = machine(replicated: true)
        guard case .findHome = here.admitted(nil, nowMilliseconds: 1) else { Issue.record("no home asked"); return }
        guard case .sequenceHere(_, let home) = here.homeFound("us-east", map: map, sync: true) else { Issue.record("not sequenced here"); return }
        #expect(home == "us-east")
        guard case .finish(let ack, let effects) = here.sequenced() else { Issue.record("not finished"); return }
        #expect(ack.reasonCode == .success)
        #expect(effects.stored == nil)  // sequenceHere told and fanned out itself
        // Homed elsewhere, async: forwarded alone.
        var async = machine(replicated: true)
        _ = async.admitted(nil, nowMilliseconds: 5)
        guard case .forward(let send, let serving, let copy, _) = async.homeFound("ap-south", map: map, sync: false) else { Issue.record("not forwarded"); return }
        #expect(serving == "ap-south")
        #expect(copy == nil)
        #expect(send.conversation == "alice~bob" && send.device == "a1" && send.receivedMs == 5)
        guard case .finish(_, let forwardedEffects) = async.forwarded() else { Issue.record("not finished"); return }
        #expect(forwardedEffects.countAccepted)
        // Sync: a copy for this region's standby.
        var sync = machine(replicated: true)
        _ = sync.admitted(nil, nowMilliseconds: 5)
        guard case .forward(_, _, let syncCopy, let standby) = sync.homeFound("ap-south", map: map, sync: true) else { Issue.record("not forwarded"); return }
        #expect(standby == "eu-west")
        #expect(syncCopy?.standbyCopy == true)
        // Not known here yet.
        var unknown = machine(replicated: true)
        _ = unknown.admitted(nil, nowMilliseconds: 1)
        #expect(refusal(unknown.homeFound(nil, map: map, sync: false))?.code == .notFound)
    }

    @Test func aFailedForwardIsUnavailableForARetry() {
        var m = machine(replicated: true)
        _ = m.admitted(nil, nowMilliseconds: 1)
        _ = m.homeFound("ap-south", map: RegionMap(local: "us-east", standbys: Self.standbys), sync: true)
        let refused = refusal(m.failed(ChatError(.unavailable, "the standby has not confirmed the send")))
        #expect(refused?.code == .unavailable)
        #expect(refused?.reason == .unspecifiedError)
    }

    @Test func anEventOutOfOrderEndsTheSendInsteadOfTrapping() {
        var m = machine()
        #expect(refusal(m.stored(.init(duplicate: false, epoch: 1, seq: 1)))?.code == .unavailable)
        var early = machine(replicated: true)
        #expect(refusal(early.forwarded())?.code == .unavailable)
    }
}
