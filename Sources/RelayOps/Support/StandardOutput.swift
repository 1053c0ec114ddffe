#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Unbuffered writes to standard output, for lines other processes wait on
/// (e.g. "listening on ..."), which must not sit in a pipe's buffer.
public enum StandardOutput {
    /// Writes `line` and a newline to file descriptor 1 at once.
    public static func writeLine(_ line: String) {
        var bytes = Array((line + "\n").utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeMutableBytes { write(1, $0.baseAddress! + offset, $0.count - offset) }
            if n <= 0 { return }
            offset += n
        }
    }
}

/// Unbuffered writes to standard error, one line at a time.
public enum StandardError {
    /// Writes `line` and a newline to file descriptor 2 at once.
    public static func writeLine(_ line: String) {
        var bytes = Array((line + "\n").utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress! + offset, $0.count - offset) }
            if n <= 0 { return }
            offset += n
        }
    }
}
