/// A relay's MQTT listener, `host:port`.
public struct Endpoint: Sendable, Hashable, CustomStringConvertible {
    /// Host name or address.
    public var host: String
    /// TCP port.
    public var port: Int

    /// The default MQTT port.
    public static let defaultPort = 1883

    /// An endpoint.
    public init(host: String, port: Int = Endpoint.defaultPort) {
        self.host = host
        self.port = port
    }

    /// Parses `host`, `host:port`, `[v6-address]:port`, optionally after
    /// `mqtt://` or `tcp://` (the forms a Server Reference may take).
    public init(parsing text: String) throws(RelayClientError) {
        var rest = Substring(text.trimmingCharactersInSpaces())
        for scheme in ["mqtt://", "tcp://", "mqtts://", "ssl://"] where rest.hasPrefix(scheme) {
            rest = rest.dropFirst(scheme.count)
        }
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        var host = rest
        var port = Endpoint.defaultPort
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { throw .invalidEndpoint(text) }
            host = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":"), let p = Int(after.dropFirst()) else { throw .invalidEndpoint(text) }
                port = p
            }
        } else if let colon = rest.lastIndex(of: ":") {
            guard rest.firstIndex(of: ":") == colon, let p = Int(rest[rest.index(after: colon)...]) else {
                throw .invalidEndpoint(text)
            }
            host = rest[..<colon]
            port = p
        }
        guard !host.isEmpty, (1...65535).contains(port) else { throw .invalidEndpoint(text) }
        self.init(host: String(host), port: port)
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

extension String {
    fileprivate func trimmingCharactersInSpaces() -> String {
        String(drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
    }
}
