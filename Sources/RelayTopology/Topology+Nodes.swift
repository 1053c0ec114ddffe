/// The relay nodes of a region (decision 0027): `"nodes": N` in the
/// region's entry of `topology.json`, node `i` on the ports `i` past the
/// region's endpoints, so that every region (and `scripts/up`) can tell
/// where each node of another region listens without its settings file.
extension Topology.Region {
    /// The most relay nodes a region may list.
    public static let maximumNodes = 64

    /// How many relay nodes serve the region: `nodes`, 1 when absent, kept
    /// within 1...``maximumNodes`` (``TopologyCheck`` reports a value outside).
    public var nodeCount: Int { min(max(nodes ?? 1, 1), Self.maximumNodes) }

    /// Where node `node` listens for what `endpoint` (one of `devices`,
    /// `peers`, `http`) names for node 0: the same host, `node` ports on.
    /// Nil when `endpoint` is not `HOST:PORT` or the port would pass 65535.
    public func address(_ endpoint: String, node: Int) -> TopologyAddress? {
        guard var address = TopologyAddress(endpoint), node >= 0, address.port + node <= 65_535 else { return nil }
        address.port += node
        return address
    }
}
