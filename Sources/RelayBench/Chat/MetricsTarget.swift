/// A region's HTTP endpoint to read `/metrics` from: `[NAME=]HOST:PORT`
/// on the command line (`us-east=127.0.0.1:8110`); without a name the
/// endpoint names itself.
struct MetricsTarget: Sendable, Hashable {
    var name: String
    var host: String
    var port: Int

    /// Parses `[NAME=]HOST:PORT` (`[::1]:8110` for IPv6); nil when it is not that.
    init?(argument: String) {
        var rest = Substring(argument)
        var name: String?
        if let equals = rest.firstIndex(of: "=") {
            name = String(rest[..<equals])
            rest = rest[rest.index(after: equals)...]
        }
        guard let colon = rest.lastIndex(of: ":"), let port = Int(rest[rest.index(after: colon)...]),
              (1...65_535).contains(port)
        else { return nil }
        var host = rest[..<colon]
        if host.hasPrefix("[") && host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        guard !host.isEmpty, name?.isEmpty != true else { return nil }
        self.host = String(host)
        self.port = port
        self.name = name ?? "\(rest)"
    }
}
