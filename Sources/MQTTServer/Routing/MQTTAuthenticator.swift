import MQTT
import NIOCore

/// Who a connection authenticated as. Routers use it to authorize topics.
public struct MQTTPrincipal: Sendable, Hashable {
    /// The CONNECT user name, if any.
    public var username: String?
    /// Claims the authenticator established (for the chat relay: user,
    /// device, home region).
    public var attributes: [String: String]

    public init(username: String? = nil, attributes: [String: String] = [:]) {
        self.username = username
        self.attributes = attributes
    }
}

/// An authenticator's verdict on a CONNECT.
public enum MQTTAuthenticationResult: Sendable {
    /// Accept the connection as this principal.
    case accept(MQTTPrincipal)
    /// Refuse it with this reason code. `properties` may carry a Reason
    /// String, or a Server Reference with 0x9C Use another server / 0x9D
    /// Server moved (MQTT 5.0 §4.11).
    case reject(ReasonCode, MQTTProperties)
}

/// Checks the credentials in a CONNECT. Runs before any session is touched.
public protocol MQTTAuthenticator: Sendable {
    /// Decides on `connect`. Return a future completed on any event loop;
    /// never block the calling loop.
    func authenticate(_ connect: ConnectPacket, remoteAddress: SocketAddress?, eventLoop: any EventLoop) -> EventLoopFuture<MQTTAuthenticationResult>
}

/// Accepts every client (the generic broker's default).
public struct AllowAllAuthenticator: MQTTAuthenticator {
    public init() {}

    public func authenticate(_ connect: ConnectPacket, remoteAddress: SocketAddress?, eventLoop: any EventLoop) -> EventLoopFuture<MQTTAuthenticationResult> {
        eventLoop.makeSucceededFuture(.accept(MQTTPrincipal(username: connect.username)))
    }
}
