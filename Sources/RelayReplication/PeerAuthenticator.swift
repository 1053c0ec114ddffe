import MQTT
import MQTTServer
import NIOCore

/// Authenticates the shippers of other regions on this region's peer
/// listener (``PeerCredentials``).
///
/// | outcome | CONNACK reason code |
/// |---|---|
/// | no user name, or no password | 0x86 Bad user name or password |
/// | user name not `region:<R>` (a device, anyone else) | 0x87 Not authorized |
/// | R is this region, or not a region of the topology | 0x87 Not authorized |
/// | wrong password for R | 0x86 Bad user name or password |
///
/// Refusals carry a Reason String. Accepted connections get a principal
/// whose user name is `region:<R>` and whose attribute
/// ``PeerAuthenticator/regionAttribute`` is R.
public struct PeerAuthenticator: MQTTAuthenticator {
    /// The principal attribute naming the peer's region.
    public static let regionAttribute = "region"

    private let region: String
    private let peers: Set<String>
    private let credentials: PeerCredentials

    /// An authenticator for region `region`'s listener, admitting the other
    /// regions of `regions`.
    public init(region: String, regions: some Sequence<String>, credentials: PeerCredentials) {
        self.region = region
        self.peers = Set(regions).subtracting([region])
        self.credentials = credentials
    }

    public func authenticate(_ connect: ConnectPacket, remoteAddress: SocketAddress?, eventLoop: any EventLoop) -> EventLoopFuture<MQTTAuthenticationResult> {
        eventLoop.makeSucceededFuture(authenticate(connect))
    }

    /// Decides on `connect` (cheap: one HMAC).
    public func authenticate(_ connect: ConnectPacket) -> MQTTAuthenticationResult {
        guard let username = connect.username, !username.isEmpty else {
            return Self.reject(.badUserNameOrPassword, "a user name region:<region> is required")
        }
        guard let peer = PeerCredentials.region(fromUsername: username) else {
            return Self.reject(.notAuthorized, "only regions connect here (user name region:<region>)")
        }
        guard peer != region else {
            return Self.reject(.notAuthorized, "region \(peer) cannot replicate to itself")
        }
        guard peers.contains(peer) else {
            return Self.reject(.notAuthorized, "\(peer) is not a region of the topology")
        }
        guard let password = connect.password, password.readableBytes > 0 else {
            return Self.reject(.badUserNameOrPassword, "a password is required")
        }
        guard credentials.verify(password: password.readableBytesView, for: peer) else {
            return Self.reject(.badUserNameOrPassword, "bad password for region \(peer)")
        }
        return .accept(MQTTPrincipal(username: username, attributes: [Self.regionAttribute: peer]))
    }

    private static func reject(_ code: ReasonCode, _ reason: String) -> MQTTAuthenticationResult {
        var properties = MQTTProperties()
        properties.reasonString = reason
        return .reject(code, properties)
    }
}
