import Foundation
import NIOCore
import RelayCore
import RelayStore

/// `keys.upload` and `keys.fetch` across regions (docs/protocol.md, "Keys"):
/// a user's keys live in the region serving the user's home, which alone
/// hands out their one-time prekeys. A fetch for a user served elsewhere is
/// asked of that region over the replication link (`KeysRequest`) and the
/// device's request waits for its answer (`KeysAnswer`), at most
/// ``PendingKeyFetches/timeout``. Uploads and the one-time prekeys handed
/// out are mirrored to the standby of the device's home (`KeysMirror`); in
/// sync mode the answer waits until the standby acknowledged them.
extension ChatRouter {
    /// Answers a device's `keys.upload`: stored here, mirrored to the
    /// standby of the device's home and, in sync mode, answered once the
    /// standby acknowledged it (`unavailable` after the sync timeout: the
    /// keys are stored, a retry stores them again).
    func uploadKeys(_ upload: Relay_V1_KeysUpload, device: String, home: String, on loop: any EventLoop) -> EventLoopFuture<Relay_V1_Response> {
        keys.store(upload, device: device, on: loop).flatMap { () -> EventLoopFuture<Void> in
            guard let replicator = self.replicator else { return loop.makeSucceededVoidFuture() }
            var mirror = Relay_V1_KeysMirror()
            mirror.device = device
            mirror.upload = upload
            return replicator.mirror([replicator.frame { $0.keysMirror = mirror }], forHome: home, on: loop).flatMap { ids in
                replicator.waitIfSync(ids, on: loop).flatMapErrorThrowing { error in
                    throw ChatError(.unavailable, "the standby has not confirmed the keys (\(error)); upload them again")
                }
            }
        }.map {
            var response = Relay_V1_Response()
            response.ok = Relay_V1_Empty()
            return response
        }
    }

    /// Hands out `fetch.user`'s bundles from this region's directory, and
    /// mirrors the one-time prekeys that went to the standby of the user's
    /// `home` (this region's when it is not known). In sync mode the bundles
    /// are answered only once the standby acknowledged that they went, so
    /// that no failover can hand one out twice; if it does not in time the
    /// answer is `unavailable` and those prekeys stay used up.
    func handOutKeys(_ fetch: Relay_V1_KeysFetch, requester: String, home: String?, on loop: any EventLoop) -> EventLoopFuture<Relay_V1_Response> {
        keys.fetch(fetch, requester: requester, on: loop).flatMap { fetched -> EventLoopFuture<Relay_V1_Response> in
            guard let replicator = self.replicator, !fetched.consumed.isEmpty else { return loop.makeSucceededFuture(fetched.response) }
            let frames = fetched.consumed.sorted { $0.key < $1.key }.map { device, prekey in
                var mirror = Relay_V1_KeysMirror()
                mirror.device = device
                mirror.consumed = [Data(prekey)]
                return replicator.frame { $0.keysMirror = mirror }
            }
            return replicator.mirror(frames, forHome: home ?? replicator.local, on: loop).flatMap { ids in
                replicator.waitIfSync(ids, on: loop).flatMapErrorThrowing { error in
                    throw ChatError(.unavailable, "the standby has not confirmed the prekeys handed out (\(error)); fetch again")
                }
            }.map { fetched.response }
        }
    }

    /// Applies a `KeysMirror` from the region serving the device's home:
    /// its upload stored as there (checked again), its consumed one-time
    /// prekeys dropped (or remembered until their upload comes).
    func applyKeysMirror(_ mirror: Relay_V1_KeysMirror, on loop: any EventLoop) -> EventLoopFuture<Void> {
        guard DeviceID(rawValue: mirror.device) != nil else {
            return loop.makeFailedFuture(ChatError(.badRequest, "keys mirror names no valid device"))
        }
        let stored = mirror.hasUpload ? keys.store(mirror.upload, device: mirror.device, on: loop) : loop.makeSucceededVoidFuture()
        return stored.flatMap { self.keys.dropConsumed(mirror.consumed, device: mirror.device, on: loop) }
    }


    /// Answers a device's `keys.fetch`: from this region's directory when it
    /// serves `fetch.user`'s home (or does not know the home), else from the
    /// region that serves it; `unavailable` while that home is failing back
    /// or when its answer does not come in time.
    func fetchKeys(_ fetch: Relay_V1_KeysFetch, requester: String, on loop: any EventLoop) -> EventLoopFuture<Relay_V1_Response> {
        guard let replicator, let user = try? UserID(validating: fetch.user) else {
            return handOutKeys(fetch, requester: requester, home: nil, on: loop)  // one region, or refused there as bad_request
        }
        return replicator.directory.homes(of: [user.rawValue], on: loop).flatMap { homes -> EventLoopFuture<Relay_V1_Response> in
            guard let home = homes[user.rawValue] else { return self.handOutKeys(fetch, requester: requester, home: nil, on: loop) }
            guard let serving = replicator.map.servingRegion(of: home) else {
                return loop.makeFailedFuture(ChatError(.unavailable, "region \(home) is failing back; retry shortly"))
            }
            guard serving != replicator.local else { return self.handOutKeys(fetch, requester: requester, home: home, on: loop) }
            var request = Relay_V1_KeysRequest()
            request.requestID = UUID().uuidString
            request.requesterDevice = requester
            request.fetch = fetch
            let id = request.requestID
            let answer = replicator.keyFetches.wait(for: id, region: serving, on: loop)
            replicator.ship([serving: [replicator.frame { $0.keysRequest = request }]], on: loop).whenFailure { error in
                replicator.keyFetches.fail(id, ChatError(redis: error))
            }
            return answer.flatMapThrowing { response in
                if response.hasError { throw ChatError(ErrorCode(rawValue: response.error.code), response.error.message) }
                guard case .keyBundles(let bundles)? = response.body, bundles.user == user.rawValue else {
                    throw ChatError(.unavailable, "region \(serving) answered the key fetch with no bundles of \(user.rawValue)")
                }
                return response
            }
        }
    }

    /// Applies a `KeysRequest` from `origin`: hands out the bundles here
    /// (when this region serves the user's home; else `unavailable`, and
    /// the device asks again) and ships the answer, or the refusal, back.
    func answerKeys(_ request: Relay_V1_KeysRequest, to origin: String, replicator: Replicator, on loop: any EventLoop) -> EventLoopFuture<Void> {
        let user = request.fetch.user
        let fetched = replicator.directory.homes(of: [user], on: loop).flatMap { homes -> EventLoopFuture<Relay_V1_Response> in
            if let home = homes[user], !replicator.map.servesHere(home) {
                return loop.makeFailedFuture(ChatError(.unavailable, "region \(replicator.local) does not serve \(user)'s home \(home) now; retry"))
            }
            return self.handOutKeys(request.fetch, requester: request.requesterDevice, home: homes[user], on: loop)
        }.recover { error in
            var refusal = Relay_V1_Response()
            refusal.error = ChatError(redis: error).wire
            return refusal
        }
        return fetched.flatMap { response in
            var answer = Relay_V1_KeysAnswer()
            answer.requestID = request.requestID
            answer.response = response
            return replicator.ship([origin: [replicator.frame { $0.keysAnswer = answer }]], on: loop).map { _ in }
        }
    }

    /// Applies a `KeysAnswer`: the waiting device's request completes (an
    /// answer nobody waits for any more is dropped).
    func applyKeysAnswer(_ answer: Relay_V1_KeysAnswer, from origin: String, replicator: Replicator) {
        if replicator.keyFetches.complete(answer.requestID, with: answer.response) { return }
        // The region's peer endpoint may lead to another node than the one
        // whose device asked (decision 0027): pass the answer on to every
        // node; the one holding the request completes it.
        let payload: [UInt8]
        do {
            payload = try answer.serializedBytes()
        } catch {
            logger.warning("key fetch answer not passed on", metadata: ["origin": "\(origin)", "error": "\(error)"])
            return
        }
        let redis = store.redis
        let logger = self.logger
        Task {
            do {
                _ = try await redis.send(RedisCommand("PUBLISH", Self.keysAnswerChannel, payload))
            } catch {
                logger.warning("key fetch answer not passed on to the region's other nodes", metadata: [
                    "origin": "\(origin)", "request": "\(answer.requestID)", "error": "\(error)",
                ])
            }
        }
    }

    /// The Pub/Sub channel on which a node passes on a `KeysAnswer` it
    /// applied without a request waiting for it there.
    package static let keysAnswerChannel = "k:answers"

    /// A `KeysAnswer` a node of this region passed on (``keysAnswerChannel``):
    /// completes its request when it waits on this node.
    package func keysAnswerPassedOn(_ payload: ByteBuffer) {
        guard let replicator else { return }
        let answer: Relay_V1_KeysAnswer
        do {
            answer = try Relay_V1_KeysAnswer(serializedBytes: Array(payload.readableBytesView))
        } catch {
            logger.warning("a key fetch answer passed on is not a KeysAnswer", metadata: ["error": "\(error)"])
            return
        }
        if !replicator.keyFetches.complete(answer.requestID, with: answer.response) {
            // Another node's, or it timed out, or its node restarted.
            logger.debug("key fetch answer not waited for on this node", metadata: ["request": "\(answer.requestID)"])
        }
    }

    /// Applies a `PrivacyUpdate`: the user's settings as the region serving
    /// them set them (fields not set, or not valid, are left alone).
    func applyPrivacy(_ update: Relay_V1_PrivacyUpdate, on loop: any EventLoop) -> EventLoopFuture<Void> {
        guard let user = try? UserID(validating: update.user) else {
            logger.warning("privacy update for an invalid user id ignored", metadata: ["user": "\(update.user)"])
            return loop.makeSucceededVoidFuture()
        }
        let lastSeen = update.hasLastSeen && Self.lastSeenChoices.contains(update.lastSeen) ? update.lastSeen : nil
        return store.setPrivacy(user: user.rawValue, readReceipts: update.hasReadReceipts ? update.readReceipts : nil, lastSeen: lastSeen, on: loop)
    }

    /// The values `PrivacySettings.last_seen` may take.
    static let lastSeenChoices: Set<String> = ["everyone", "nobody"]
}
