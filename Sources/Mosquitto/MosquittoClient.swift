import CMosquitto
import Foundation
import Synchronization

/// An MQTT client over libmosquitto: one instance owns one `struct mosquitto *`.
///
/// The client runs its own network thread while a connection is open or being
/// opened: that thread makes the blocking `mosquitto_connect_bind_v5` call and
/// then runs `mosquitto_loop`, which reads, writes, keeps alive and calls back.
/// Nothing blocking runs on the caller's thread or Swift's cooperative pool.
/// The thread ends when the link is down and no connect is pending, so a
/// disconnected client holds no thread; while connected, the thread keeps the
/// client alive (call `disconnect()` or `close()` when done).
///
/// Every callback is reported on `events`, in order; `connect`, `publish` and
/// `subscribe` can also await their own acknowledgement. libmosquitto sends
/// PUBACK for an incoming QoS 1 message before `.message` is reported.
///
/// `@unchecked Sendable` is safe because: all Swift state is behind `Mutex`es;
/// libmosquitto's functions are thread-safe once `mosquitto_threaded_set(true)`
/// is called ("libmosquitto provides thread safe operation, with the exception
/// of mosquitto_lib_init", mosquitto.h, Topic: Threads), which `init` does;
/// `mosquitto_lib_init` runs once per process behind a `static let`; the
/// callbacks run only on the network thread, which holds a strong reference to
/// this object, so the unretained `Unmanaged` pointer they receive is valid;
/// and `mosquitto_destroy` runs in `deinit`, when no thread can use the handle.
public final class MosquittoClient: @unchecked Sendable {
    /// MQTT protocol version.
    public enum ProtocolVersion: Sendable, Hashable {
        /// MQTT 3.1.1.
        case v311
        /// MQTT 5.0.
        case v5
    }

    /// TLS settings (libmosquitto's OpenSSL).
    public struct TLS: Sendable, Hashable {
        /// PEM file of trusted CA certificates.
        public var caFile: String?
        /// Directory of trusted CA certificates.
        public var caPath: String?
        /// Client certificate (PEM), for mutual TLS.
        public var certFile: String?
        /// Client key (PEM), for mutual TLS.
        public var keyFile: String?
        /// Skip host name verification (tests only).
        public var insecure: Bool

        /// TLS trusting `caFile` (or the system's CAs when nil).
        public init(caFile: String? = nil, caPath: String? = nil, certFile: String? = nil,
                    keyFile: String? = nil, insecure: Bool = false) {
            self.caFile = caFile
            self.caPath = caPath
            self.certFile = certFile
            self.keyFile = keyFile
            self.insecure = insecure
        }
    }

    /// What stays the same across connections.
    public struct Configuration: Sendable, Hashable {
        /// The client identifier (the device id for the relay).
        public var clientID: String
        /// Clean start (MQTT 5) / clean session (3.1.1).
        public var cleanStart: Bool
        /// Protocol version.
        public var protocolVersion: ProtocolVersion
        /// User name.
        public var username: String?
        /// Password.
        public var password: String?
        /// TLS, or nil for plain TCP.
        public var tls: TLS?
        /// Receive Maximum (MQTT 5): QoS 1/2 messages the broker may have unacknowledged.
        public var receiveMaximum: UInt16?

        /// A configuration.
        public init(clientID: String, cleanStart: Bool = true, protocolVersion: ProtocolVersion = .v5,
                    username: String? = nil, password: String? = nil, tls: TLS? = nil,
                    receiveMaximum: UInt16? = nil) {
            self.clientID = clientID
            self.cleanStart = cleanStart
            self.protocolVersion = protocolVersion
            self.username = username
            self.password = password
            self.tls = tls
            self.receiveMaximum = receiveMaximum
        }
    }

    private struct ConnectRequest {
        var host: String
        var port: Int32
        var keepAlive: Int32
        var properties: MosquittoProperties
    }

    private struct State {
        var commands: [ConnectRequest] = []
        /// A network thread is running.
        var threadRunning = false
        /// A socket is open (after the blocking connect, until the loop fails).
        var linkUp = false
        /// A connect is queued or in progress and has no CONNACK yet.
        var connectWaiter: (token: UInt64, continuation: CheckedContinuation<ConnectAcknowledgement, any Error>)?
        /// A refused CONNACK, reported once the link is down.
        var refusal: ConnectAcknowledgement?
        var nextToken: UInt64 = 0
        var closed = false
    }

    /// The configuration this client was made with.
    public let configuration: Configuration
    /// Everything the network thread reports, in order. One consumer.
    public let events: AsyncStream<MosquittoEvent>

    private let handle: OpaquePointer
    private let eventSink: AsyncStream<MosquittoEvent>.Continuation
    private let state = Mutex(State())
    private let publishes = WaiterTable<Int32, PublishAcknowledgement>()
    private let subscriptions = WaiterTable<Int32, SubscribeAcknowledgement>()

    /// Creates the libmosquitto handle and applies `configuration`; nothing is sent yet.
    public init(configuration: Configuration) throws(MosquittoError) {
        MosquittoLibrary.ensureInitialized()
        guard let handle = mosquitto_new(configuration.clientID, configuration.cleanStart, nil) else {
            throw MosquittoError(configuration.clientID.isEmpty && !configuration.cleanStart ? .invalid : .noMemory,
                                 function: "mosquitto_new")
        }
        // From here on `handle` is destroyed if anything fails.
        do {
            try MosquittoError.check(mosquitto_threaded_set(handle, true), "mosquitto_threaded_set")
            let version = configuration.protocolVersion == .v5 ? MQTT_PROTOCOL_V5 : MQTT_PROTOCOL_V311
            try MosquittoError.check(
                mosquitto_int_option(handle, MOSQ_OPT_PROTOCOL_VERSION, version), "mosquitto_int_option")
            if let receiveMaximum = configuration.receiveMaximum {
                try MosquittoError.check(
                    mosquitto_int_option(handle, MOSQ_OPT_RECEIVE_MAXIMUM, Int32(receiveMaximum)),
                    "mosquitto_int_option")
            }
            if configuration.username != nil || configuration.password != nil {
                try MosquittoError.check(
                    mosquitto_username_pw_set(handle, configuration.username, configuration.password),
                    "mosquitto_username_pw_set")
            }
            if let tls = configuration.tls {
                try MosquittoError.check(
                    mosquitto_tls_set(handle, tls.caFile, tls.caPath, tls.certFile, tls.keyFile, nil),
                    "mosquitto_tls_set")
                if tls.insecure {
                    try MosquittoError.check(mosquitto_tls_insecure_set(handle, true), "mosquitto_tls_insecure_set")
                }
            }
        } catch {
            mosquitto_destroy(handle)
            throw error
        }
        self.handle = handle
        self.configuration = configuration
        (events, eventSink) = AsyncStream.makeStream(of: MosquittoEvent.self)
        mosquitto_user_data_set(handle, Unmanaged.passUnretained(self).toOpaque())
        installCallbacks()
    }

    deinit {
        mosquitto_destroy(handle)
        eventSink.finish()
    }

    /// True while a socket to the broker is open.
    public var isLinkUp: Bool { state.withLock { $0.linkUp } }

    /// Connects to `host:port` and waits for CONNACK.
    ///
    /// Returns the acknowledgement when accepted; throws
    /// `MosquittoClientError.refused` with it when refused (its properties hold
    /// any Server Reference), `.connectionLost` when the link drops first,
    /// `.timedOut` after `timeout`, `.busy` while connected or connecting, or a
    /// `MosquittoError` when the socket cannot be opened.
    /// May be called again after the link went down, to the same or another host.
    public func connect(host: String, port: Int, keepAlive: Int = 60,
                        properties: MosquittoProperties = MosquittoProperties(),
                        timeout: Duration = .seconds(10)) async throws -> ConnectAcknowledgement {
        let request = ConnectRequest(host: host, port: Int32(port), keepAlive: Int32(keepAlive),
                                     properties: properties)
        var timer: Task<Void, Never>?
        defer { timer?.cancel() }
        let token = state.withLock { state in
            state.nextToken += 1
            return state.nextToken
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<ConnectAcknowledgement, any Error>) in
                let outcome: Result<Bool, MosquittoClientError> = state.withLock { state in
                    if state.closed { return .failure(.closed) }
                    if state.linkUp || state.connectWaiter != nil || !state.commands.isEmpty {
                        return .failure(.busy)
                    }
                    state.connectWaiter = (token, continuation)
                    state.commands.append(request)
                    let startThread = !state.threadRunning
                    state.threadRunning = true
                    return .success(startThread)
                }
                switch outcome {
                case .failure(let error):
                    continuation.resume(throwing: error)
                case .success(let startThread):
                    if startThread { startNetworkThread() }
                    timer = Task {
                        try? await Task.sleep(for: timeout)
                        guard !Task.isCancelled else { return }
                        self.abandonConnect(token, MosquittoClientError.timedOut)
                    }
                    if Task.isCancelled { abandonConnect(token, CancellationError()) }
                }
            }
        } onCancel: {
            self.abandonConnect(token, CancellationError())
        }
    }

    /// Sends DISCONNECT (with `reasonCode` and properties under MQTT 5) and
    /// closes the link; `.disconnected` follows on `events`. Does not wait.
    public func disconnect(reasonCode: UInt8 = 0,
                           properties: MosquittoProperties = MosquittoProperties()) throws(MosquittoError) {
        try properties.withPropertyList { (list) throws(MosquittoError) in
            let rc = mosquitto_disconnect_v5(handle, Int32(reasonCode), list)
            if rc == MOSQ_ERR_NO_CONN.rawValue { return }
            try MosquittoError.check(rc, "mosquitto_disconnect_v5")
        }
    }

    /// Disconnects, fails every waiter with `.closed`, and finishes `events`.
    /// The client cannot connect again.
    public func close() {
        let waiter = state.withLock { state in
            state.closed = true
            state.commands.removeAll()
            defer { state.connectWaiter = nil }
            return state.connectWaiter?.continuation
        }
        waiter?.resume(throwing: MosquittoClientError.closed)
        try? disconnect()
        publishes.failAll(MosquittoClientError.closed)
        subscriptions.failAll(MosquittoClientError.closed)
        eventSink.finish()
    }

    /// Queues a PUBLISH and returns its packet identifier without waiting.
    ///
    /// QoS 1 and 2 messages queued while the link is down are sent when it is
    /// up again. To publish with a topic alias only (MQTT 5), pass an empty
    /// `topic` and `properties.topicAlias` set by an earlier publish.
    @discardableResult
    public func publish(topic: String, payload: [UInt8], qos: UInt8 = 0, retain: Bool = false,
                        properties: MosquittoProperties = MosquittoProperties()) throws(MosquittoError) -> Int32 {
        try publishRaw(topic: topic, payload: payload, qos: qos, retain: retain, properties: properties)
    }

    /// Publishes and waits for its acknowledgement (PUBACK for QoS 1, PUBCOMP
    /// for QoS 2; QoS 0 returns once queued, with reason 0).
    ///
    /// A failure reason code (MQTT 5) is returned, not thrown. Throws
    /// `MosquittoClientError.timedOut` after `timeout` (libmosquitto keeps the
    /// message and may still deliver it).
    public func publish(topic: String, payload: [UInt8], qos: UInt8, retain: Bool = false,
                        properties: MosquittoProperties = MosquittoProperties(),
                        timeout: Duration) async throws -> PublishAcknowledgement {
        if qos == 0 {
            let mid = try publishRaw(topic: topic, payload: payload, qos: 0, retain: retain, properties: properties)
            return PublishAcknowledgement(messageID: mid, reasonCode: 0)
        }
        let mid = try enqueuePublish(topic: topic, payload: payload, qos: qos, retain: retain, properties: properties)
        return try await acknowledgement(of: mid, timeout: timeout)
    }

    /// Queues a QoS 1 or 2 PUBLISH and returns its packet identifier, whose
    /// acknowledgement ``acknowledgement(of:timeout:)`` awaits. PUBLISHes go
    /// out in the order of these calls, so a caller keeping several in
    /// flight (a pipelined replication link) decides their order here and
    /// awaits their acknowledgements from other tasks.
    public func enqueuePublish(topic: String, payload: [UInt8], qos: UInt8, retain: Bool = false,
                               properties: MosquittoProperties = MosquittoProperties()) throws(MosquittoError) -> Int32 {
        try publishes.register { () throws(MosquittoError) -> Int32 in
            try publishRaw(topic: topic, payload: payload, qos: max(1, qos), retain: retain, properties: properties)
        }
    }

    /// Waits for the acknowledgement of a PUBLISH queued with
    /// ``enqueuePublish(topic:payload:qos:retain:properties:)`` (PUBACK or
    /// PUBCOMP). A failure reason code is returned, not thrown; throws
    /// `MosquittoClientError.timedOut` after `timeout`, `.closed` once the
    /// client is closed.
    public func acknowledgement(of messageID: Int32, timeout: Duration) async throws -> PublishAcknowledgement {
        if state.withLock({ $0.closed }) { throw MosquittoClientError.closed }
        return try await publishes.wait(for: messageID, timeout: timeout)
    }

    /// Subscribes to `filter` and waits for SUBACK. `options` are MQTT 5
    /// subscription options beyond QoS (no local 0x04, retain as published 0x08).
    public func subscribe(_ filter: String, qos: UInt8 = 1, options: Int32 = 0,
                          properties: MosquittoProperties = MosquittoProperties(),
                          timeout: Duration = .seconds(10)) async throws -> SubscribeAcknowledgement {
        let mid = try subscriptions.register { () throws(MosquittoError) -> Int32 in
            try properties.withPropertyList { (list) throws(MosquittoError) -> Int32 in
                var mid: Int32 = 0
                try MosquittoError.check(
                    mosquitto_subscribe_v5(handle, &mid, filter, Int32(qos), options, list), "mosquitto_subscribe_v5")
                return mid
            }
        }
        return try await subscriptions.wait(for: mid, timeout: timeout)
    }

    // MARK: - Internals

    private func publishRaw(topic: String, payload: [UInt8], qos: UInt8, retain: Bool,
                            properties: MosquittoProperties) throws(MosquittoError) -> Int32 {
        try properties.withPropertyList { (list) throws(MosquittoError) -> Int32 in
            var mid: Int32 = 0
            let rc = payload.withUnsafeBytes { bytes in
                if topic.isEmpty {
                    mosquitto_publish_v5(handle, &mid, nil, Int32(bytes.count), bytes.baseAddress,
                                         Int32(qos), retain, list)
                } else {
                    mosquitto_publish_v5(handle, &mid, topic, Int32(bytes.count), bytes.baseAddress,
                                         Int32(qos), retain, list)
                }
            }
            try MosquittoError.check(rc, "mosquitto_publish_v5")
            return mid
        }
    }

    private func abandonConnect(_ token: UInt64, _ error: any Error) {
        let waiter = state.withLock { state -> CheckedContinuation<ConnectAcknowledgement, any Error>? in
            guard let waiter = state.connectWaiter, waiter.token == token else { return nil }
            state.connectWaiter = nil
            state.commands.removeAll()
            return waiter.continuation
        }
        guard let waiter else { return }
        // Abort a half-open attempt; the network thread sees the link go down.
        _ = mosquitto_disconnect(handle)
        waiter.resume(throwing: error)
    }

    private func startNetworkThread() {
        let thread = Thread { [self] in self.runNetworkLoop() }
        thread.name = "mosquitto \(configuration.clientID)"
        thread.start()
    }

    private enum Step {
        case connect(ConnectRequest)
        case loop
        case exit
    }

    /// The network thread's body; `self` is retained by the thread's closure until it returns.
    private func runNetworkLoop() {
        while true {
            let step: Step = state.withLock { state in
                if !state.commands.isEmpty { return .connect(state.commands.removeFirst()) }
                // After close() too, until the DISCONNECT is written.
                if state.linkUp { return .loop }
                state.threadRunning = false
                return .exit
            }
            switch step {
            case .exit:
                return
            case .connect(let request):
                let rc: Int32
                do {
                    rc = try request.properties.withPropertyList { list in
                        mosquitto_connect_bind_v5(handle, request.host, request.port, request.keepAlive, nil, list)
                    }
                } catch {
                    rc = error.code.rawValue
                }
                if rc == 0 {
                    let abandoned = state.withLock { state in
                        state.linkUp = true
                        return state.connectWaiter == nil
                    }
                    // The caller gave up (timeout, cancel, close) while the socket was opening.
                    if abandoned { _ = mosquitto_disconnect(handle) }
                } else {
                    let waiter = state.withLock { state in
                        defer { state.connectWaiter = nil }
                        return state.connectWaiter?.continuation
                    }
                    waiter?.resume(throwing: MosquittoError(.init(rawValue: rc), function: "mosquitto_connect_bind_v5"))
                }
            case .loop:
                let rc = mosquitto_loop(handle, 500, 1)
                if rc != 0 {
                    // The socket is closed; libmosquitto has reported the disconnection.
                    state.withLock { $0.linkUp = false }
                }
            }
        }
    }

    // MARK: - Callbacks (network thread)

    private static func client(_ userdata: UnsafeMutableRawPointer?) -> MosquittoClient {
        Unmanaged<MosquittoClient>.fromOpaque(userdata!).takeUnretainedValue()
    }

    private func installCallbacks() {
        mosquitto_connect_v5_callback_set(handle) { _, userdata, rc, flags, properties in
            MosquittoClient.client(userdata).didConnect(
                ConnectAcknowledgement(reasonCode: UInt8(truncatingIfNeeded: rc), sessionPresent: flags & 1 != 0,
                                       properties: MosquittoProperties(properties)))
        }
        mosquitto_disconnect_v5_callback_set(handle) { _, userdata, rc, properties in
            MosquittoClient.client(userdata).didDisconnect(
                Disconnection(code: rc, properties: MosquittoProperties(properties)))
        }
        mosquitto_message_v5_callback_set(handle) { _, userdata, message, properties in
            guard let message else { return }
            let m = message.pointee
            let payload = m.payload.map {
                Array(UnsafeRawBufferPointer(start: $0, count: Int(m.payloadlen)))
            } ?? []
            MosquittoClient.client(userdata).eventSink.yield(.message(MosquittoMessage(
                topic: m.topic.map { String(cString: $0) } ?? "",
                payload: payload, qos: UInt8(truncatingIfNeeded: m.qos), retain: m.retain,
                messageID: m.mid, properties: MosquittoProperties(properties))))
        }
        mosquitto_publish_v5_callback_set(handle) { _, userdata, mid, reason, properties in
            let client = MosquittoClient.client(userdata)
            let ack = PublishAcknowledgement(messageID: mid, reasonCode: UInt8(truncatingIfNeeded: reason),
                                             properties: MosquittoProperties(properties))
            client.publishes.resolve(mid, ack)
            client.eventSink.yield(.published(ack))
        }
        mosquitto_subscribe_v5_callback_set(handle) { _, userdata, mid, count, granted, properties in
            let client = MosquittoClient.client(userdata)
            let codes = granted.map { Array(UnsafeBufferPointer(start: $0, count: Int(count))) } ?? []
            let ack = SubscribeAcknowledgement(messageID: mid, reasonCodes: codes.map { UInt8(truncatingIfNeeded: $0) },
                                               properties: MosquittoProperties(properties))
            client.subscriptions.resolve(mid, ack)
            client.eventSink.yield(.subscribed(ack))
        }
    }

    private func didConnect(_ ack: ConnectAcknowledgement) {
        // A refusal is reported to the waiter when the link is down (libmosquitto
        // closes it right after), so that the caller can connect again at once.
        let waiter = state.withLock { state -> CheckedContinuation<ConnectAcknowledgement, any Error>? in
            guard ack.isAccepted else {
                state.refusal = ack
                return nil
            }
            defer { state.connectWaiter = nil }
            return state.connectWaiter?.continuation
        }
        eventSink.yield(.connectAcknowledged(ack))
        waiter?.resume(returning: ack)
    }

    private func didDisconnect(_ disconnection: Disconnection) {
        // libmosquitto has closed the socket before calling back.
        let (waiter, refusal) = state.withLock { state in
            state.linkUp = false
            defer {
                state.connectWaiter = nil
                state.refusal = nil
            }
            return (state.connectWaiter?.continuation, state.refusal)
        }
        eventSink.yield(.disconnected(disconnection))
        if let refusal {
            waiter?.resume(throwing: MosquittoClientError.refused(refusal))
        } else {
            waiter?.resume(throwing: MosquittoClientError.connectionLost(disconnection))
        }
    }
}

/// `mosquitto_lib_init`, which is not thread-safe, exactly once per process.
enum MosquittoLibrary {
    private static let initialized: Int32 = mosquitto_lib_init()

    static func ensureInitialized() {
        _ = initialized
    }
}
