import Foundation
import RelayCore
import SwiftProtobuf

/// The wire form of the replication stream: which frames go into one
/// `ReplicationBatch`, how a receiver checks one, and the `regions` user
/// property of a PUBACK. Pure: no I/O.
public enum ReplicationBatchCodec {
    /// The topic origin `region` publishes its batches on: `repl/<region>`.
    public static func topic(origin region: String) -> String { "repl/\(region)" }

    /// The origin named by a batch topic, or nil when it is not `repl/<R>`.
    public static func origin(ofTopic topic: String) -> String? {
        guard topic.hasPrefix("repl/") else { return nil }
        let origin = topic.dropFirst(5)
        guard !origin.isEmpty, !origin.contains("/") else { return nil }
        return String(origin)
    }

    /// The PUBACK user property holding the receiver's region states.
    public static let regionsProperty = "regions"

    /// The PUBLISH user property holding the highest id the origin had
    /// acknowledged when it shipped the batch: frames up to it are trimmed
    /// from its outbox and will never come again (``InboundPlan``).
    public static let acknowledgedProperty = "acked"

    /// Limits on one batch.
    public struct Limits: Sendable, Equatable {
        /// At most this many frames.
        public var maximumFrames: Int
        /// At most this many bytes of serialized frames, except that a batch
        /// always takes its first frame, however large.
        public var maximumBytes: Int

        /// Limits with every field given.
        public init(maximumFrames: Int = 256, maximumBytes: Int = 512 * 1024) {
            self.maximumFrames = max(1, maximumFrames)
            self.maximumBytes = max(1, maximumBytes)
        }
    }

    /// How many of `entries` (a prefix) go into the next batch under `limits`.
    public static func batchCount(_ entries: [OutboxEntry], limits: Limits) -> Int {
        var bytes = 0
        var count = 0
        for entry in entries.prefix(limits.maximumFrames) {
            bytes += entry.frame.count
            if count > 0 && bytes > limits.maximumBytes { break }
            count += 1
        }
        return count
    }

    /// A batch from `origin` carrying `entries` (all of them: take a prefix
    /// with ``batchCount(_:limits:)`` first) and `regions`.
    public static func batch(origin: String, entries: some Collection<OutboxEntry>, regions: [Relay_V1_RegionState]) -> Relay_V1_ReplicationBatch {
        var batch = Relay_V1_ReplicationBatch()
        batch.origin = origin
        batch.regions = regions
        batch.frames = entries.map { entry in
            var shipped = Relay_V1_ShippedFrame()
            shipped.id = entry.id
            shipped.appendedMs = entry.appendedMs
            shipped.frame = Data(entry.frame)
            return shipped
        }
        return batch
    }

    /// One frame of a decoded batch.
    public struct DecodedFrame: Sendable, Equatable {
        /// Its id in the origin's outbox to this region.
        public var id: UInt64
        /// When the origin appended it (ms since the Unix epoch).
        public var appendedMs: Int64
        /// The frame.
        public var frame: Relay_V1_Frame
    }

    /// A batch a receiver has checked.
    public struct DecodedBatch: Sendable, Equatable {
        /// The origin region.
        public var origin: String
        /// Its frames, ids consecutive and increasing.
        public var frames: [DecodedFrame]
        /// The origin's region states.
        public var regions: [Relay_V1_RegionState]
    }

    /// Decodes a batch published on `repl/<origin>`. Throws
    /// ``ReplicationError/Kind/invalidBatch`` when the payload is not a
    /// batch, names another origin, holds a frame that does not decode, or
    /// holds ids that are not consecutive and increasing (from 1 up).
    public static func decode(_ payload: some Collection<UInt8>, origin: String) throws(ReplicationError) -> DecodedBatch {
        let batch: Relay_V1_ReplicationBatch
        do {
            batch = try Relay_V1_ReplicationBatch(serializedBytes: Array(payload))
        } catch {
            throw ReplicationError(.invalidBatch, "not a ReplicationBatch: \(error)")
        }
        guard batch.origin == origin else {
            throw ReplicationError(.invalidBatch, "batch origin \(batch.origin) published on repl/\(origin)")
        }
        var frames: [DecodedFrame] = []
        frames.reserveCapacity(batch.frames.count)
        for shipped in batch.frames {
            if let previous = frames.last {
                guard shipped.id == previous.id + 1 else {
                    throw ReplicationError(.invalidBatch, "frame \(shipped.id) follows \(previous.id)")
                }
            } else if shipped.id == 0 {
                throw ReplicationError(.invalidBatch, "frame id 0")
            }
            do {
                let frame = try Relay_V1_Frame(serializedBytes: shipped.frame)
                frames.append(DecodedFrame(id: shipped.id, appendedMs: shipped.appendedMs, frame: frame))
            } catch {
                throw ReplicationError(.invalidBatch, "frame \(shipped.id) does not decode: \(error)")
            }
        }
        return DecodedBatch(origin: origin, frames: frames, regions: batch.regions)
    }

    /// The `regions` user property value: base64 of `RegionStates`.
    public static func regionsValue(_ states: [Relay_V1_RegionState]) -> String {
        var message = Relay_V1_RegionStates()
        message.regions = states
        let bytes: [UInt8] = (try? message.serializedBytes()) ?? []
        return Data(bytes).base64EncodedString()
    }

    /// The region states in a `regions` user property value, or nil when it
    /// is not base64 of `RegionStates`.
    public static func regions(fromValue value: String) -> [Relay_V1_RegionState]? {
        guard let data = Data(base64Encoded: value),
            let message = try? Relay_V1_RegionStates(serializedBytes: data)
        else { return nil }
        return message.regions
    }
}
