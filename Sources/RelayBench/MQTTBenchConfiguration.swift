import MQTT
import NIOCore

/// Everything one `relay-bench mqtt` run needs.
public struct MQTTBenchConfiguration: Sendable {
    /// When publishers stop.
    public enum Load: Sendable, Hashable {
        /// Each publisher sends this many messages.
        case messages(Int)
        /// Publishers send for this long.
        case duration(TimeAmount)
    }

    public var host: String
    public var port: Int
    /// Publisher/subscriber pairs, one topic each.
    public var pairs: Int
    /// QoS of PUBLISH and SUBSCRIBE: `.atMostOnce` or `.atLeastOnce`.
    public var qos: QoS
    /// The per-publisher window: unacknowledged PUBLISHes at QoS 1,
    /// published-but-undelivered messages at QoS 0.
    public var inflight: Int
    public var load: Load
    /// PUBLISH payload size in bytes, at least `BenchPayload.headerSize`.
    public var payloadSize: Int
    public var protocolVersion: ProtocolVersion
    /// Publish this long before measuring; its results are discarded.
    public var warmup: TimeAmount
    /// Event loop threads.
    public var threads: Int
    /// A free-form name carried into the output.
    public var label: String?
    /// Bounds TCP connect, CONNACK and SUBACK together.
    public var setupTimeout: TimeAmount
    /// Bounds each publishing phase (warm-up, measurement) including its drain.
    public var phaseTimeout: TimeAmount
    /// After publishers stop, a phase ends once nothing has been received or
    /// acknowledged for this long, even if messages are missing.
    public var drainQuietPeriod: TimeAmount

    /// The smallest payload: timestamp and sequence number.
    public static let minimumPayloadSize = BenchPayload.headerSize

    public init(
        host: String = "127.0.0.1",
        port: Int = 1883,
        pairs: Int = 1,
        qos: QoS = .atLeastOnce,
        inflight: Int = 64,
        load: Load = .duration(.seconds(10)),
        payloadSize: Int = 64,
        protocolVersion: ProtocolVersion = .v311,
        warmup: TimeAmount = .zero,
        threads: Int = 1,
        label: String? = nil,
        setupTimeout: TimeAmount = .seconds(10),
        phaseTimeout: TimeAmount? = nil,
        drainQuietPeriod: TimeAmount = .seconds(2)
    ) {
        self.host = host
        self.port = port
        self.pairs = pairs
        self.qos = qos
        self.inflight = inflight
        self.load = load
        self.payloadSize = payloadSize
        self.protocolVersion = protocolVersion
        self.warmup = warmup
        self.threads = threads
        self.label = label
        self.setupTimeout = setupTimeout
        switch load {
        case .duration(let d): self.phaseTimeout = phaseTimeout ?? d + .seconds(30)
        case .messages: self.phaseTimeout = phaseTimeout ?? .seconds(300)
        }
        self.drainQuietPeriod = drainQuietPeriod
    }

    /// Throws `.invalidConfiguration` for values the run cannot use.
    public func validate() throws(BenchError) {
        func check(_ ok: Bool, _ message: String) throws(BenchError) {
            if !ok { throw BenchError(.invalidConfiguration, message) }
        }
        try check((1...65_535).contains(port), "port must be 1...65535")
        try check((1...10_000).contains(pairs), "pairs must be 1...10000")
        try check(qos == .atMostOnce || qos == .atLeastOnce, "qos must be 0 or 1")
        // Below 65,535 so QoS 1 packet identifiers never wrap onto one still in flight.
        try check((1...60_000).contains(inflight), "inflight must be 1...60000")
        try check(
            (Self.minimumPayloadSize...16 * 1024 * 1024).contains(payloadSize),
            "payload must be \(Self.minimumPayloadSize)...16777216 bytes (8-byte timestamp + 8-byte sequence)"
        )
        try check((1...64).contains(threads), "threads must be 1...64")
        try check(warmup >= .zero, "warmup must not be negative")
        switch load {
        case .messages(let n): try check(n >= 1, "messages must be at least 1")
        case .duration(let d): try check(d > .zero, "duration must be positive")
        }
    }
}
