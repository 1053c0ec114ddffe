/// The tus 1.0.0 resumable upload protocol, core and creation extension
/// (https://tus.io/protocols/resumable-upload), as pure checks over header
/// values: the listener only moves bytes and answers what these decide.
public enum TusRules {
    /// The only protocol version served (`Tus-Resumable`, `Tus-Version`).
    public static let version = "1.0.0"
    /// Extensions served (`Tus-Extension`).
    public static let extensions = "creation"
    /// The `Content-Type` of a PATCH.
    public static let patchContentType = "application/offset+octet-stream"

    /// Every request but OPTIONS must carry `Tus-Resumable: 1.0.0`; another
    /// version is 412 (the answer then names `Tus-Version`).
    public static func checkResumable(_ header: String?) throws(MediaRefusal) {
        guard let header else { throw .preconditionFailed("Tus-Resumable: \(version) is required") }
        guard header.trimmingSpaces() == version else {
            throw .preconditionFailed("Tus-Resumable \(header.prefix(32)) is not supported; this server speaks \(version)")
        }
    }

    /// A creation (POST): `Upload-Length` must be given and equal the
    /// length the URL was granted for (413 when above it, or above the
    /// region's `maximum`; 400 when below or malformed). `Upload-Defer-Length`
    /// (an extension not served) is refused.
    public static func creationLength(_ header: String?, deferLength: String?, granted: UInt64, maximum: UInt64) throws(MediaRefusal) -> UInt64 {
        guard deferLength == nil else { throw .badRequest("Upload-Defer-Length is not supported: give Upload-Length") }
        guard let header else { throw .badRequest("Upload-Length is required") }
        guard let length = nonNegative(header) else { throw .badRequest("Upload-Length \(header.prefix(32)) is not a non-negative integer") }
        guard length <= maximum else { throw .tooLarge("Upload-Length \(length) is above this region's maximum of \(maximum) bytes") }
        guard length <= granted else { throw .tooLarge("Upload-Length \(length) is above the \(granted) bytes this URL was granted for") }
        guard length == granted else { throw .badRequest("Upload-Length \(length) differs from the \(granted) bytes this URL was granted for") }
        return length
    }

    /// A PATCH's headers against the upload's state: 415 for another
    /// content type, 400 for a missing or malformed `Upload-Offset`, 409
    /// when it is not the stored offset, 413 when `Content-Length` would
    /// carry the upload past its length. Returns the offset.
    public static func checkPatch(contentType: String?, offsetHeader: String?, contentLength: String?,
                                  storedOffset: UInt64, length: UInt64) throws(MediaRefusal) -> UInt64 {
        guard let contentType, contentType.split(separator: ";").first.map({ String($0).trimmingSpaces().lowercased() }) == patchContentType else {
            throw .unsupportedMediaType("a PATCH must be Content-Type: \(patchContentType)")
        }
        guard let offsetHeader else { throw .badRequest("Upload-Offset is required") }
        guard let offset = nonNegative(offsetHeader) else { throw .badRequest("Upload-Offset \(offsetHeader.prefix(32)) is not a non-negative integer") }
        guard offset == storedOffset else {
            throw .conflict("Upload-Offset \(offset) is not the stored offset \(storedOffset): HEAD the upload and resume from there")
        }
        if let contentLength {
            guard let bytes = nonNegative(contentLength) else { throw .badRequest("Content-Length \(contentLength.prefix(32)) is not a non-negative integer") }
            guard bytes <= length - offset else {
                throw .tooLarge("\(bytes) bytes at offset \(offset) would pass the upload's length \(length)")
            }
        }
        return offset
    }

    /// Whether `chunk` more bytes fit after `written` bytes of an upload of
    /// `length` (a body without `Content-Length` is checked as it streams).
    public static func fits(chunk: Int, written: UInt64, length: UInt64) -> Bool {
        guard chunk >= 0, written <= length else { return false }
        return UInt64(chunk) <= length - written
    }

    /// A decimal header value of at most 19 digits (tus: "a non-negative integer").
    static func nonNegative(_ text: String) -> UInt64? {
        let t = text.trimmingSpaces()
        guard !t.isEmpty, t.utf8.count <= 19, t.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) else { return nil }
        return UInt64(t)
    }
}
