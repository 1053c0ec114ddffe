import Logging
import MQTT
import NIOConcurrencyHelpers
import NIOCore

/// What every connection of one server shares.
final class ServerContext: Sendable {
    let configuration: MQTTServerConfiguration
    let router: any MQTTRouter
    let authenticator: any MQTTAuthenticator
    let registry: SessionRegistry
    let logger: Logger
    let metrics = MQTTServerMetrics()
    /// The configuration as every connection's state machine holds it.
    let machineConfiguration: ConnectionStateMachine.SharedConfiguration
    private let keepAliveWheels = NIOLockedValueBox<[ObjectIdentifier: NIOLoopBound<KeepAliveWheel>]>([:])

    init(configuration: MQTTServerConfiguration, router: any MQTTRouter, authenticator: any MQTTAuthenticator, logger: Logger) {
        self.configuration = configuration
        self.machineConfiguration = ConnectionStateMachine.SharedConfiguration(configuration)
        self.router = router
        self.authenticator = authenticator
        self.registry = SessionRegistry(router: router, configuration: configuration)
        self.logger = logger
    }

    /// The keep-alive wheel of `eventLoop`; call on that loop.
    func keepAliveWheel(on eventLoop: any EventLoop) -> KeepAliveWheel {
        keepAliveWheels.withLockedValue { wheels in
            if let wheel = wheels[ObjectIdentifier(eventLoop)] { return wheel.value }
            let wheel = KeepAliveWheel(eventLoop: eventLoop)
            wheels[ObjectIdentifier(eventLoop)] = NIOLoopBound(wheel, eventLoop: eventLoop)
            return wheel
        }
    }
}
