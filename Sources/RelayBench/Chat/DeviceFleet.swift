import MQTT
import NIOConcurrencyHelpers
import NIOCore

/// Hears every device of a `DeviceFleet`, from whichever event loop the
/// device runs on; implementations keep their state behind a lock.
protocol FleetObserver: Sendable {
    func deviceReady(_ index: Int)
    func device(_ index: Int, received publish: PublishPacket, topic: String, bytes: Int, at now: UInt64)
    func device(_ index: Int, acknowledged packetIdentifier: UInt16, at now: UInt64)
    func device(_ index: Int, ended error: BenchError?)
}

/// Many benchmark devices spread over an event loop group, reporting to one
/// `FleetObserver`. Device i is the i-th identity given to `connect`.
final class DeviceFleet: Sendable {
    private let group: any EventLoopGroup
    private let observer: any FleetObserver
    private let options: ChatDeviceOptions
    private let handlers = NIOLockedValueBox<[Int: NIOLoopBound<ChatDeviceHandler>]>([:])
    private let channels = NIOLockedValueBox<[any Channel]>([])

    init(group: any EventLoopGroup, options: ChatDeviceOptions, observer: any FleetObserver) {
        self.group = group
        self.options = options
        self.observer = observer
    }

    /// Connects `identities` (numbered from `firstIndex`), at most
    /// `concurrency` connecting at once, each from the next of `sources`.
    /// Returns when every device is connected and subscribed, or throws
    /// when one fails or the whole does not finish within `timeout`.
    func connect(
        _ identities: [ChatDeviceIdentity], firstIndex: Int = 0, host: String, port: Int,
        sources: [SocketAddress], concurrency: Int, timeout: TimeAmount, ready: @escaping @Sendable (Int) async throws -> Void
    ) async throws {
        let deadline = NIODeadline.now() + timeout
        var start = 0
        while start < identities.count {
            let batch = start..<min(identities.count, start + concurrency)
            var futures: [EventLoopFuture<any Channel>] = []
            for offset in batch {
                let index = firstIndex + offset
                let identity = identities[offset]
                let loop = group.next()
                let source = sources.isEmpty ? nil : sources[index % sources.count]
                futures.append(ChatDeviceConnector.connect(
                    host: host, port: port, source: source, timeout: max(deadline - .now(), .milliseconds(1)), on: loop
                ) { [options, observer, handlers] in
                    let handler = ChatDeviceHandler(identity: identity, options: options, index: index, delegate: FleetMember(observer))
                    handlers.withLockedValue { $0[index] = NIOLoopBound(handler, eventLoop: loop) }
                    return handler
                })
            }
            for future in futures {
                do {
                    let channel = try await future.get()
                    channels.withLockedValue { $0.append(channel) }
                } catch {
                    throw BenchError(.connectionFailed, "cannot connect to \(host):\(port): \(error)")
                }
            }
            for offset in batch { try await ready(firstIndex + offset) }
            start = batch.upperBound
        }
    }

    /// Runs `body` with device `index`'s handler on its event loop.
    func withDevice<T: Sendable>(_ index: Int, _ body: @escaping @Sendable (ChatDeviceHandler) -> T) async throws -> T {
        guard let bound = handlers.withLockedValue({ $0[index] }) else {
            throw BenchError(.connectionFailed, "device \(index) is not connected")
        }
        return try await bound.eventLoop.submit { body(bound.value) }.get()
    }

    /// Disconnects every device and waits (at most 2 s each) for the close.
    func close() async {
        let all = handlers.withLockedValue { $0 }
        for (_, bound) in all {
            bound.eventLoop.execute { bound.value.disconnect() }
        }
        for channel in channels.withLockedValue({ $0 }) {
            let deadline = channel.eventLoop.scheduleTask(in: .seconds(2)) { channel.close(promise: nil) }
            try? await channel.closeFuture.get()
            deadline.cancel()
        }
    }
}

/// Forwards one device's events to the fleet's observer.
private final class FleetMember: ChatDeviceDelegate {
    private let observer: any FleetObserver

    init(_ observer: any FleetObserver) {
        self.observer = observer
    }

    func deviceReady(_ device: ChatDeviceHandler) {
        observer.deviceReady(device.index)
    }

    func device(_ device: ChatDeviceHandler, received publish: PublishPacket, topic: String, bytes: Int, at now: UInt64) {
        observer.device(device.index, received: publish, topic: topic, bytes: bytes, at: now)
    }

    func device(_ device: ChatDeviceHandler, acknowledged packetIdentifier: UInt16, reason: ReasonCode, at now: UInt64) {
        observer.device(device.index, acknowledged: packetIdentifier, at: now)
    }

    func device(_ device: ChatDeviceHandler, ended error: BenchError?) {
        observer.device(device.index, ended: error)
    }
}
