import Logging
import MQTT

/// What every connection of one server shares.
final class ServerContext: Sendable {
    let configuration: MQTTServerConfiguration
    let router: any MQTTRouter
    let authenticator: any MQTTAuthenticator
    let registry: SessionRegistry
    let logger: Logger
    let metrics = MQTTServerMetrics()

    init(configuration: MQTTServerConfiguration, router: any MQTTRouter, authenticator: any MQTTAuthenticator, logger: Logger) {
        self.configuration = configuration
        self.router = router
        self.authenticator = authenticator
        self.registry = SessionRegistry(router: router, configuration: configuration)
        self.logger = logger
    }
}
