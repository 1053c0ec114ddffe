import Foundation

/// Resident memory of another process, from `/proc/<pid>/status` (Linux).
public enum ProcessMemory {
    /// `VmRSS` of `pid` in bytes, or nil when it cannot be read.
    public static func residentBytes(pid: Int32) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        return residentBytes(status: text)
    }

    /// `VmRSS` in bytes from the text of a `/proc/<pid>/status` file.
    public static func residentBytes(status: String) -> Int? {
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            let fields = line.dropFirst("VmRSS:".count).split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count == 2, fields[1] == "kB", let kilobytes = Int(fields[0]) else { return nil }
            return kilobytes * 1024
        }
        return nil
    }
}
