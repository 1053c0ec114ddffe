/// Where one Redis node listens: a host (name or IP address) and a TCP port.
public struct RedisNodeAddress: Hashable, Sendable, CustomStringConvertible {
    /// The host name or IP address.
    public var host: String
    /// The TCP port, 1 through 65535.
    public var port: Int

    /// The address `host:port`, or nil when `host` is empty or `port` is
    /// not a TCP port.
    public init?(host: String, port: Int) {
        guard !host.isEmpty, (1...65_535).contains(port) else { return nil }
        self.host = host
        self.port = port
    }

    /// Parses `host:port` (the port after the last colon, so an IPv6
    /// address such as `::1:7000` works, and `[::1]:7000` too). Redis 7
    /// appends `@<cluster bus port>` to addresses in some replies: that
    /// part is ignored.
    public init?(_ text: some StringProtocol) {
        let text = text.split(separator: "@", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]) else { return nil }
        var host = text[..<colon]
        if host.hasPrefix("["), host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        self.init(host: String(host), port: port)
    }

    /// `host:port`.
    public var description: String { "\(self.host):\(self.port)" }
}
