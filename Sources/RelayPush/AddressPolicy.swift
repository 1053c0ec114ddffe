import Foundation

/// Which addresses a push may not go to: loopback, private, link-local,
/// unspecified and other special-purpose ranges (RFC 6890), so that a
/// device's registration cannot turn the relay into a request forwarder
/// into its own network.
public enum AddressPolicy {
    /// True for a host name or literal that is refused outright:
    /// `localhost` names and special-purpose IP literals.
    public static func isRefusedHost(_ host: String) -> Bool {
        let name = host.lowercased().trimmingCharacters(in: ["[", "]", "."])
        if name == "localhost" || name.hasSuffix(".localhost") || name.hasSuffix(".local") || name.hasSuffix(".internal") { return true }
        if let v4 = ipv4(name) { return isRefused(ipv4: v4) }
        if name.contains(":") {
            guard let v6 = ipv6(name) else { return true }  // not a literal we can read: refuse
            return isRefused(ipv6: v6)
        }
        return false
    }

    /// True for a special-purpose IPv4 address.
    public static func isRefused(ipv4 a: [UInt8]) -> Bool {
        guard a.count == 4 else { return true }
        switch (a[0], a[1]) {
        case (0, _), (10, _), (127, _), (169, 254), (192, 168), (255, _): return true
        case (172, 16...31), (100, 64...127), (198, 18...19): return true
        case (192, 0) where a[2] == 0 || a[2] == 2: return true
        case (198, 51) where a[2] == 100, (203, 0) where a[2] == 113: return true
        default: return a[0] >= 224  // multicast and reserved
        }
    }

    /// True for a special-purpose IPv6 address (and IPv4-mapped refused ones).
    public static func isRefused(ipv6 a: [UInt8]) -> Bool {
        guard a.count == 16 else { return true }
        if a[0..<15].allSatisfy({ $0 == 0 }) { return true }  // :: and ::1
        if a[0..<10].allSatisfy({ $0 == 0 }) && a[10] == 0xFF && a[11] == 0xFF { return isRefused(ipv4: Array(a[12..<16])) }
        if a[0] & 0xFE == 0xFC { return true }  // fc00::/7 unique local
        if a[0] == 0xFE && a[1] & 0xC0 == 0x80 { return true }  // fe80::/10 link-local
        if a[0] == 0xFF { return true }  // multicast
        if a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x0D && a[3] == 0xB8 { return true }  // documentation
        return false
    }

    /// A dotted-quad IPv4 literal.
    static func ipv4(_ text: String) -> [UInt8]? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var bytes: [UInt8] = []
        for part in parts {
            guard !part.isEmpty, part.count <= 3, part.allSatisfy(\.isNumber), let value = UInt8(part) else { return nil }
            bytes.append(value)
        }
        return bytes
    }

    /// An IPv6 literal (with `::`, without a zone or an embedded IPv4 part).
    static func ipv6(_ text: String) -> [UInt8]? {
        let halves = text.components(separatedBy: "::")
        guard halves.count <= 2 else { return nil }
        func groups(_ s: String) -> [UInt16]? {
            if s.isEmpty { return [] }
            var out: [UInt16] = []
            for g in s.split(separator: ":", omittingEmptySubsequences: false) {
                guard !g.isEmpty, g.count <= 4, let v = UInt16(g, radix: 16) else { return nil }
                out.append(v)
            }
            return out
        }
        guard let head = groups(halves[0]) else { return nil }
        let tail = halves.count == 2 ? groups(halves[1]) : []
        guard let tail else { return nil }
        let missing = 8 - head.count - tail.count
        guard halves.count == 2 ? missing >= 1 : missing == 0 else { return nil }
        let all = head + [UInt16](repeating: 0, count: halves.count == 2 ? missing : 0) + tail
        return all.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
    }
}
