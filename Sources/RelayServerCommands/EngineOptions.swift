import ArgumentParser
import Logging
import MQTT
import MQTTServer
import NIOCore
import NIOSSL
import RelayOps

/// Command-line options of the MQTT engine, shared by `relay broker` and
/// `relay serve`: listeners, TLS, protocol limits, threads, logging.
public struct EngineOptions: ParsableArguments {
    @Option(help: "Address for MQTT over TCP, HOST:PORT.")
    public var listen: HostPort = HostPort(host: "127.0.0.1", port: 1883)

    @Option(name: .customLong("ws-listen"), help: "Address for MQTT over WebSocket (subprotocol mqtt), HOST:PORT.")
    public var webSocketListen: HostPort?

    @Option(name: .customLong("tls-listen"), help: "Address for MQTT over TLS, HOST:PORT (needs --tls-cert and --tls-key).")
    public var tlsListen: HostPort?

    @Option(name: .customLong("tls-cert"), help: "PEM certificate chain for --tls-listen.")
    public var tlsCertificate: String?

    @Option(name: .customLong("tls-key"), help: "PEM private key for --tls-listen.")
    public var tlsKey: String?

    @Option(help: "Largest packet accepted, in bytes (CONNACK Maximum Packet Size).")
    public var maxPacketSize: UInt32 = 1_048_576

    @Option(help: "Unacknowledged QoS 1/2 PUBLISHes a client may send (CONNACK Receive Maximum).")
    public var receiveMaximum: UInt16 = 256

    @Option(help: "QoS 1/2 messages in flight to one client at most.")
    public var maxInflight: UInt16 = 256

    @Option(help: "Topic aliases a client may use (CONNACK Topic Alias Maximum).")
    public var topicAliasMaximum: UInt16 = 64

    @Option(help: "Longest keep-alive granted to MQTT 5 clients, in seconds (Server Keep Alive).")
    public var maxKeepAlive: UInt16?

    @Option(help: "Seconds a connection has to complete CONNECT.")
    public var connectTimeout: Int = 10

    @Option(help: "Messages a session queues beyond its inflight window.")
    public var maxQueuedMessages: Int = 1000

    @Option(help: "Unsent bytes after which a client that does not read is disconnected.")
    public var maxOutgoingBytes: Int = 4 * 1_048_576

    @Option(help: "Longest session expiry granted, in seconds.")
    public var maxSessionExpiry: UInt32?

    @Option(help: "Event-loop threads (default: one per core).")
    public var threads: Int?

    @Option(help: "trace, debug, info, notice, warning, error or critical.")
    public var logLevel: Logger.Level = .info

    public init() {}

    public func validate() throws {
        if tlsListen != nil && (tlsCertificate == nil || tlsKey == nil) {
            throw ValidationError("--tls-listen needs --tls-cert and --tls-key")
        }
        if maxPacketSize < 16 { throw ValidationError("--max-packet-size must be at least 16 bytes") }
        if receiveMaximum == 0 { throw ValidationError("--receive-maximum must be at least 1") }
        if maxInflight == 0 { throw ValidationError("--max-inflight must be at least 1") }
        if connectTimeout < 1 { throw ValidationError("--connect-timeout must be at least 1 second") }
        if maxQueuedMessages < 0 { throw ValidationError("--max-queued-messages must not be negative") }
        if maxOutgoingBytes < 1024 { throw ValidationError("--max-outgoing-bytes must be at least 1024") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    }

    /// The engine configuration these options describe.
    public var configuration: MQTTServerConfiguration {
        var configuration = MQTTServerConfiguration()
        configuration.maximumPacketSize = maxPacketSize
        configuration.receiveMaximum = receiveMaximum
        configuration.maximumInflightOutbound = maxInflight
        configuration.topicAliasMaximum = topicAliasMaximum
        configuration.maximumKeepAlive = maxKeepAlive
        configuration.connectTimeout = .seconds(Int64(connectTimeout))
        configuration.maximumQueuedMessages = maxQueuedMessages
        configuration.maximumOutgoingBytes = maxOutgoingBytes
        configuration.maximumSessionExpiry = maxSessionExpiry
        return configuration
    }

    /// The listeners these options ask for (TLS files are read here).
    public func listeners() throws -> [MQTTServer.Listener] {
        var listeners = [MQTTServer.Listener(host: listen.host, port: listen.port, transport: .tcp)]
        if let webSocketListen {
            listeners.append(.init(host: webSocketListen.host, port: webSocketListen.port, transport: .webSocket))
        }
        if let tlsListen, let tlsCertificate, let tlsKey {
            let chain = try NIOSSLCertificate.fromPEMFile(tlsCertificate).map { NIOSSLCertificateSource.certificate($0) }
            let tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(try NIOSSLPrivateKey(file: tlsKey, format: .pem)))
            listeners.append(.init(host: tlsListen.host, port: tlsListen.port, transport: .tls(try NIOSSLContext(configuration: tls))))
        }
        return listeners
    }
}
