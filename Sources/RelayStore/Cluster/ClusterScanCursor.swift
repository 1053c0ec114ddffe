/// A `SCAN` cursor over every master of a cluster: which master (by index
/// in the sorted list of masters) and that master's own cursor.
///
/// `SCAN` walks one node's keyspace; a cluster client scans the masters one
/// after the other, so a caller's loop `SCAN 0 ... until the cursor is "0"`
/// sees every master's keys. The cursor handed to the caller is
/// `"<master>-<node cursor>"`, or `"0"` at the start and once the last
/// master is done. As with `SCAN` itself, keys added or moved (a reshard, a
/// failover that changes the masters) during a scan may be missed or seen
/// twice.
public struct ClusterScanCursor: Hashable, Sendable {
    /// The index of the master being scanned.
    public var master: Int
    /// That master's `SCAN` cursor (decimal).
    public var nodeCursor: String

    /// The start of a scan.
    public static let start = ClusterScanCursor(master: 0, nodeCursor: "0")

    /// Reads a cursor given back by a caller: `"0"` (start) or
    /// `"<master>-<node cursor>"`; nil for anything else.
    public init?(_ text: String) {
        if text == "0" {
            self = .start
            return
        }
        let parts = text.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, let master = Int(parts[0]), master >= 0, !parts[1].isEmpty, parts[1].allSatisfy(\.isASCIIDigit)
        else { return nil }
        self.master = master
        self.nodeCursor = String(parts[1])
    }

    private init(master: Int, nodeCursor: String) {
        self.master = master
        self.nodeCursor = nodeCursor
    }

    /// The cursor to hand the caller after master `master` answered with
    /// `next`, out of `masterCount` masters: `"0"` once the last is done.
    public static func after(master: Int, next: String, masterCount: Int) -> String {
        if next != "0" { return "\(master)-\(next)" }
        return master + 1 < masterCount ? "\(master + 1)-0" : "0"
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { self >= "0" && self <= "9" }
}
