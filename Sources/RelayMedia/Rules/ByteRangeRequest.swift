/// A download's `Range` header resolved against the blob's length
/// (RFC 7233 §2.1, §3.1, §4.4).
///
/// One byte range is served as 206; a header this listener does not serve
/// (another unit, several ranges, bad syntax) is ignored and the whole blob
/// is sent, as §3.1 allows; a range with no byte inside the blob is 416.
public enum ByteRangeRequest: Hashable, Sendable {
    /// 200 with every byte.
    case whole
    /// 206 with the bytes `first...last` (both inside the blob).
    case partial(first: UInt64, last: UInt64)
    /// 416 with `Content-Range: bytes */<length>`.
    case unsatisfiable

    /// Resolves `header` for a blob of `length` bytes.
    public static func resolve(_ header: String?, length: UInt64) -> ByteRangeRequest {
        guard let header else { return .whole }
        let trimmed = header.trimmingSpaces()
        guard trimmed.utf8.count <= 256, trimmed.lowercased().hasPrefix("bytes=") else { return .whole }
        let spec = String(trimmed.dropFirst("bytes=".count)).trimmingSpaces()
        guard !spec.contains(","), let dash = spec.firstIndex(of: "-") else { return .whole }
        let firstText = String(spec[..<dash]).trimmingSpaces()
        let lastText = String(spec[spec.index(after: dash)...]).trimmingSpaces()
        if firstText.isEmpty {
            // suffix-byte-range-spec: the last N bytes.
            guard let suffix = digits(lastText) else { return .whole }
            guard suffix > 0, length > 0 else { return .unsatisfiable }
            return .partial(first: length - min(suffix, length), last: length - 1)
        }
        guard let first = digits(firstText) else { return .whole }
        var last = UInt64.max
        if !lastText.isEmpty {
            guard let value = digits(lastText) else { return .whole }
            last = value
        }
        // §2.1: a last before the first makes the header invalid (ignored).
        guard first <= last else { return .whole }
        guard first < length else { return .unsatisfiable }
        return .partial(first: first, last: min(last, length - 1))
    }

    /// A run of ASCII digits as a number; one beyond UInt64 saturates (such
    /// a position is past any blob anyway). Nil for anything else.
    private static func digits(_ text: String) -> UInt64? {
        guard !text.isEmpty, text.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) else { return nil }
        return UInt64(text) ?? UInt64.max
    }
}

extension String {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while let c = s.first, c == " " || c == "\t" { s = s.dropFirst() }
        while let c = s.last, c == " " || c == "\t" { s = s.dropLast() }
        return String(s)
    }
}
