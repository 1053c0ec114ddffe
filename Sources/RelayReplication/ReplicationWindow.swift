/// The send window of one replication link: which batches are in flight,
/// whether another may go, and what each acknowledgement means. Pure: the
/// ``Shipper`` feeds it events (connected, shipped, acknowledged, refused,
/// disconnected) and performs the actions they return; it holds no clock
/// and does no I/O.
///
/// **Order and exactly once.** Batches carry consecutive frame ids and go
/// out in id order on one MQTT connection. The receiver applies them in
/// that order and answers 0x00 only once every frame through the batch's
/// last id is applied (it refuses a batch that would leave a gap), so a
/// success for a batch acknowledges every batch before it too: an
/// acknowledgement is cumulative. One arriving for a batch already
/// covered is a duplicate and changes nothing. A refusal or a lost
/// connection empties the window: the shipper reconnects and ships again
/// from the last acknowledged id, and the receiver skips what it applied.
///
/// **Size: the link's bandwidth-delay product.** Each acknowledgement
/// gives a round-trip sample (send to PUBACK) and a delivery-rate sample:
/// the bytes acknowledged while that batch was in flight over its round
/// trip. The window, in bytes in flight, is
/// `gain × max(recent delivery rates) × min(round trips)`, the BDP the link
/// has shown with room to grow (`gain` 2: when the sender is what limits
/// the rate, the window doubles each round trip until the receiver's apply
/// rate or the link is what limits it), held between
/// `minimumBytes` and `maximumBytes`, and never more than
/// `maximumBatches` batches (below the peer listener's Receive Maximum).
/// The floor is small on purpose: frames are small (a few hundred bytes),
/// and what the receiver has queued it applies one frame after another,
/// so a window far above the product is only a queue at the receiver.
/// Before the first sample the window is `minimumBytes`.
public struct ReplicationWindow: Sendable, Equatable {
    /// Bounds and gain of the window.
    public struct Configuration: Sendable, Equatable {
        /// The window never shrinks below this many bytes in flight.
        public var minimumBytes: Int
        /// Nor grows past this many.
        public var maximumBytes: Int
        /// At most this many batches in flight (below the peer listener's
        /// MQTT Receive Maximum, 256).
        public var maximumBatches: Int
        /// The window is this many times the measured bandwidth-delay product.
        public var gain: Double
        /// Delivery-rate samples kept for the max filter.
        public var rateSamples: Int

        /// Bounds with every field given (the defaults suit 80–200 ms links).
        public init(minimumBytes: Int = 32 * 1024, maximumBytes: Int = 32 * 1_048_576,
                    maximumBatches: Int = 64, gain: Double = 2, rateSamples: Int = 16) {
            self.minimumBytes = max(1, minimumBytes)
            self.maximumBytes = max(self.minimumBytes, maximumBytes)
            self.maximumBatches = max(1, maximumBatches)
            self.gain = max(1, gain)
            self.rateSamples = max(1, rateSamples)
        }
    }

    /// One batch in flight.
    public struct Batch: Sendable, Equatable {
        /// Its first and last frame ids.
        public var first: UInt64
        public var last: UInt64
        /// Serialized bytes of its frames.
        public var bytes: Int
        /// When it was shipped (monotonic ns).
        public var sentAt: UInt64
        /// Bytes acknowledged on this connection when it was shipped.
        public var deliveredAtSend: Int
    }

    /// What the shipper does after an acknowledgement.
    public enum AcknowledgementAction: Sendable, Equatable {
        /// Record in the outbox that the peer has every frame through this id.
        case advance(to: UInt64)
        /// Nothing: a duplicate, or a batch already covered.
        case ignore
        /// Drop the connection and ship again from the last acknowledged id.
        case reconnect(reason: String)
    }

    public let configuration: Configuration
    /// The highest id the peer acknowledged (cumulative).
    public private(set) var acknowledged: UInt64
    /// The highest id put in flight; the next batch starts after it.
    public private(set) var shipped: UInt64
    /// The batches in flight, oldest first.
    public private(set) var inFlight: [Batch] = []
    /// True between ``connected(acknowledged:)`` and ``disconnected()``.
    public private(set) var isOpen = false
    /// The smallest round trip seen (ns), nil before the first sample.
    public private(set) var minimumRoundTrip: UInt64?
    /// Recent delivery rates (bytes per second), newest last.
    public private(set) var deliveryRates: [Double] = []
    private var delivered = 0
    /// When the window last made progress: an acknowledgement, or a batch
    /// shipped into an empty window (ns).
    public private(set) var lastProgress: UInt64 = 0

    /// A closed window; nothing is in flight.
    public init(configuration: Configuration = Configuration(), acknowledged: UInt64 = 0) {
        self.configuration = configuration
        self.acknowledged = acknowledged
        self.shipped = acknowledged
    }

    /// Bytes in flight.
    public var bytesInFlight: Int { inFlight.reduce(0) { $0 + $1.bytes } }

    /// The measured bandwidth-delay product in bytes, nil before a sample.
    public var bandwidthDelayProduct: Int? {
        guard let rtt = minimumRoundTrip, let rate = deliveryRates.max() else { return nil }
        let bytes = rate * Double(rtt) / 1_000_000_000
        return bytes.isFinite ? Int(min(bytes, Double(Int.max / 4))) : nil
    }

    /// The window: bytes that may be in flight now.
    public var windowBytes: Int {
        guard let bdp = bandwidthDelayProduct else { return configuration.minimumBytes }
        let target = configuration.gain * Double(bdp)
        return Int(min(Double(configuration.maximumBytes), max(Double(configuration.minimumBytes), target)))
    }

    /// True when another batch may be shipped: the window is open and
    /// neither its batches nor its bytes are used up. (One batch may take
    /// the bytes past the window; the next waits.)
    public var mayShip: Bool {
        isOpen && inFlight.count < configuration.maximumBatches && bytesInFlight < windowBytes
    }

    /// True when batches are in flight and none was acknowledged for
    /// `timeout` ns: the peer or the connection is stuck, and the shipper
    /// reconnects. Measured from the last progress, not from each batch's
    /// send, so a receiver working through a deep window is not cut off
    /// while it keeps acknowledging.
    public func isStalled(at now: UInt64, timeout: UInt64) -> Bool {
        guard let oldest = inFlight.first else { return false }
        let since = max(lastProgress, oldest.sentAt)
        return now > since && now - since > timeout
    }

    // MARK: - Events

    /// A connection is up and the outbox says the peer acknowledged
    /// `stored`: ship from there (or from what this window knew, if later).
    public mutating func connected(acknowledged stored: UInt64) {
        acknowledged = max(acknowledged, stored)
        shipped = acknowledged
        inFlight = []
        delivered = 0
        isOpen = true
    }

    /// The connection is gone: nothing is in flight any more, and the next
    /// connection ships again from the last acknowledged id. The estimates
    /// are kept (the link is the same).
    public mutating func disconnected() {
        isOpen = false
        inFlight = []
        shipped = acknowledged
    }

    /// Frames `first...last` (`bytes` serialized) were shipped as one batch
    /// at `now`. False when the batch does not follow the last one shipped
    /// or the window is closed (a caller bug; nothing is recorded).
    @discardableResult
    public mutating func shipped(first: UInt64, last: UInt64, bytes: Int, at now: UInt64) -> Bool {
        guard isOpen, first == shipped + 1, last >= first else { return false }
        if inFlight.isEmpty { lastProgress = max(lastProgress, now) }
        inFlight.append(Batch(first: first, last: last, bytes: max(0, bytes), sentAt: now, deliveredAtSend: delivered))
        shipped = last
        return true
    }

    /// The peer accepted (0x00) the batch ending at `last`, at `now`.
    public mutating func acknowledged(through last: UInt64, at now: UInt64) -> AcknowledgementAction {
        guard isOpen else { return .ignore }
        if last <= acknowledged { return .ignore }
        guard let index = inFlight.firstIndex(where: { $0.last == last }) else {
            return .reconnect(reason: "an acknowledgement for frames up to \(last), which no batch in flight ends at")
        }
        let batch = inFlight[index]
        let covered = inFlight[...index]
        delivered += covered.reduce(0) { $0 + $1.bytes }
        inFlight.removeFirst(index + 1)
        acknowledged = last
        lastProgress = max(lastProgress, now)
        if now > batch.sentAt {
            let roundTrip = now - batch.sentAt
            minimumRoundTrip = min(minimumRoundTrip ?? roundTrip, roundTrip)
            let rate = Double(delivered - batch.deliveredAtSend) * 1_000_000_000 / Double(roundTrip)
            deliveryRates.append(rate)
            if deliveryRates.count > configuration.rateSamples {
                deliveryRates.removeFirst(deliveryRates.count - configuration.rateSamples)
            }
        }
        return .advance(to: last)
    }

    /// The peer refused the batch ending at `last` (PUBACK ≥ 0x80), or it
    /// timed out: everything after the last acknowledged id goes again on
    /// a new connection.
    public mutating func refused(through last: UInt64, reason: String) -> AcknowledgementAction {
        guard isOpen else { return .ignore }
        if last <= acknowledged { return .ignore }
        disconnected()
        return .reconnect(reason: reason)
    }
}
