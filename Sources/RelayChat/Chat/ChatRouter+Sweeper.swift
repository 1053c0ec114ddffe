import Foundation
import NIOCore
import RelayCore
import RelayReplication
import RelayStore
import SwiftProtobuf

/// The sweeper: fan-outs a node accepted but did not finish, parked sends
/// whose home is served again, and dead letters an operator asked to retry
/// (docs/operability.md, "Dead letters").
extension ChatRouter {
    /// Every `interval`: applies parked sends whose home is served again,
    /// finishes fan-outs a node accepted but did not complete (it died
    /// between PUBACK and the enqueues), and retries the dead letters an
    /// operator asked for. Enqueueing is idempotent, so a fan-out finished
    /// twice adds nothing.
    package func startSweeper(every interval: TimeAmount, on loop: any EventLoop) -> RepeatedTask {
        loop.scheduleRepeatedAsyncTask(initialDelay: .zero, delay: interval) { _ in
            self.drainParked(on: loop)
            return self.sweep(olderThan: Self.nowMilliseconds() - 5_000, on: loop).flatMap {
                self.retryDeadLetters(on: loop)
            }
        }
    }

    /// Finishes the fan-outs pending since before `cutoff` (ms). One that
    /// fails for good (its conversation id is not one, a refusal) is set
    /// aside as a dead letter and leaves the pending set, so that it is not
    /// tried on every sweep; one that fails for a passing reason stays.
    func sweep(olderThan cutoff: Int64, on loop: any EventLoop) -> EventLoopFuture<Void> {
        store.pendingConversations(on: loop).flatMap { conversations in
            let each = conversations.map { conversation in
                self.store.unfinishedFanouts(conversation: conversation, olderThan: cutoff, on: loop).flatMap { seqs in
                    self.store.messages(seqs.map { (conversation, $0) }, for: "", on: loop).flatMap { messages in
                        let fanOuts = zip(seqs, messages).map { seq, message in
                            self.logger.info("finishing a pending fan-out", metadata: ["conversation": "\(conversation)", "seq": "\(seq)"])
                            return self.fanOutNow(conversation: conversation, seq: seq, sender: message?.device ?? "", on: loop)
                                .flatMapError { self.setAsideFanOut(conversation: conversation, seq: seq, error: $0, on: loop) }
                        }
                        return EventLoopFuture.andAllComplete(fanOuts, on: loop)
                    }
                }
            }
            return EventLoopFuture.andAllComplete(each, on: loop)
        }.flatMapErrorThrowing { error in
            self.logger.warning("sweep failed", metadata: ["error": "\(error)"])
        }
    }

    private func setAsideFanOut(conversation: String, seq: UInt64, error: any Error, on loop: any EventLoop) -> EventLoopFuture<Void> {
        guard let rejection = Self.rejection(error) else {
            logger.warning("pending fan-out failed; the next sweep tries again", metadata: [
                "conversation": "\(conversation)", "seq": "\(seq)", "error": "\(ChatError(redis: error))",
            ])
            return loop.makeSucceededVoidFuture()
        }
        logger.error("pending fan-out set aside as a dead letter", metadata: [
            "conversation": "\(conversation)", "seq": "\(seq)", "error": "\(rejection)",
        ])
        metrics.fanOutQuarantined.increment()
        let letter = DeadLetters.Letter(kind: .fanout, source: conversation, id: seq, error: rejection.description, atMilliseconds: Self.nowMilliseconds())
        return deadLetters.quarantine(letter, on: loop).flatMap {
            self.store.finishFanout(conversation: conversation, seq: seq, on: loop)
        }
    }

    // MARK: - Dead letters

    /// Applies frames from other regions as the replication transport
    /// would: validated first (``FrameValidation``), and a failure that can
    /// never pass (a refusal, a bad value) thrown as ``FrameRejection``, so
    /// that the frame is set aside instead of retried forever.
    func applyChecked(_ frame: Relay_V1_Frame, from origin: String, replicator: Replicator, on loop: any EventLoop) -> EventLoopFuture<Void> {
        do {
            try FrameValidation.validate(frame)
        } catch {
            return loop.makeFailedFuture(FrameRejection("\(error)"))
        }
        return apply(frame, from: origin, replicator: replicator, on: loop).flatMapErrorThrowing { error in
            throw Self.rejection(error) ?? error
        }
    }

    /// The failure as a ``FrameRejection`` when trying again can never
    /// succeed (a rejection already, or a permanent ``ChatError``: a
    /// refusal, a bad value); nil for a failure that passes.
    static func rejection(_ error: any Error) -> FrameRejection? {
        if let rejection = error as? FrameRejection { return rejection }
        let failure = ChatError(redis: error)
        return failure.isPermanent ? FrameRejection(failure.description) : nil
    }

    /// Retries the dead letters an operator asked for (`relayctl deadletter
    /// retry`), one after another: applied ones are gone, those failing for
    /// good are set aside again (one more attempt), and on a passing failure
    /// the rest wait for the next sweep.
    func retryDeadLetters(on loop: any EventLoop) -> EventLoopFuture<Void> {
        deadLetters.nextRetry(on: loop).flatMap { letter -> EventLoopFuture<Void> in
            guard let letter else { return loop.makeSucceededVoidFuture() }
            return self.retry(letter, on: loop).flatMap { retried in
                retried ? self.retryDeadLetters(on: loop) : loop.makeSucceededVoidFuture()
            }
        }.flatMapErrorThrowing { error in
            self.logger.warning("dead letter retry failed", metadata: ["error": "\(error)"])
        }
    }

    /// True when `letter` was applied or set aside again; false when it
    /// went back on the retry list.
    private func retry(_ letter: DeadLetters.Letter, on loop: any EventLoop) -> EventLoopFuture<Bool> {
        let attempt: EventLoopFuture<Void>
        switch letter.kind {
        case .fanout:
            // Pending again first (a crash now leaves it to the sweeper), then finished here.
            let (conversation, seq) = (letter.source, letter.id)
            attempt = store.markFanoutPending(conversation: conversation, seq: seq, at: Self.nowMilliseconds(), on: loop).flatMap {
                self.store.messages([(conversation, seq)], for: "", on: loop)
            }.flatMap { messages in
                self.fanOutNow(conversation: conversation, seq: seq, sender: messages.first??.device ?? "", on: loop)
            }
        case .frame:
            guard let replicator else {
                attempt = loop.makeFailedFuture(FrameRejection("this region does not replicate: a frame cannot be applied"))
                break
            }
            do {
                let frame = try Relay_V1_Frame(serializedBytes: letter.body)
                attempt = applyChecked(frame, from: letter.source, replicator: replicator, on: loop)
            } catch {
                attempt = loop.makeFailedFuture(FrameRejection("the stored frame does not decode: \(error)"))
            }
        }
        return attempt.flatMap {
            self.logger.info("dead letter applied", metadata: ["letter": "\(letter.key)"])
            return self.deadLetters.resolved(letter, on: loop).map { true }
        }.flatMapError { error in
            guard let rejection = Self.rejection(error) else {
                return self.deadLetters.retryLater(letter, on: loop).map { false }
            }
            var again = letter
            again.error = rejection.description
            again.atMilliseconds = Self.nowMilliseconds()
            let aside = self.deadLetters.quarantine(again, on: loop)
            guard letter.kind == .fanout else { return aside.map { true } }
            return aside.flatMap { self.store.finishFanout(conversation: letter.source, seq: letter.id, on: loop) }.map { true }
        }
    }
}
