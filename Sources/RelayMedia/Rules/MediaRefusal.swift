/// Why the media listener refuses a request: the HTTP status a client sees
/// and a message saying what to fix (docs/media.md lists them).
public struct MediaRefusal: Error, Hashable, Sendable, CustomStringConvertible {
    /// The HTTP status code.
    public var status: Int
    /// What is wrong, for the client's log (`text/plain` body).
    public var message: String
    /// Seconds after which the same request may succeed (`Retry-After` on 429 and 503).
    public var retryAfterSeconds: Int?

    /// A refusal with `status` saying `message`.
    public init(_ status: Int, _ message: String, retryAfterSeconds: Int? = nil) {
        self.status = status
        self.message = message
        self.retryAfterSeconds = retryAfterSeconds
    }

    /// 400: a header or field is malformed.
    public static func badRequest(_ message: String) -> MediaRefusal { MediaRefusal(400, message) }
    /// 403: the URL's signature does not verify, or it has expired.
    public static func forbidden(_ message: String) -> MediaRefusal { MediaRefusal(403, message) }
    /// 404: no such blob (or upload).
    public static func notFound(_ message: String) -> MediaRefusal { MediaRefusal(404, message) }
    /// 409: the upload's offset is not the one given, or it is busy.
    public static func conflict(_ message: String) -> MediaRefusal { MediaRefusal(409, message) }
    /// 412: the client does not speak tus 1.0.0.
    public static func preconditionFailed(_ message: String) -> MediaRefusal { MediaRefusal(412, message) }
    /// 413: beyond the region's maximum or the declared length.
    public static func tooLarge(_ message: String) -> MediaRefusal { MediaRefusal(413, message) }
    /// 415: a PATCH that is not `application/offset+octet-stream`.
    public static func unsupportedMediaType(_ message: String) -> MediaRefusal { MediaRefusal(415, message) }
    /// 416: no byte of the range is in the blob.
    public static func rangeNotSatisfiable(_ message: String) -> MediaRefusal { MediaRefusal(416, message) }
    /// 429: too many uploads; retry after `seconds`.
    public static func tooManyRequests(_ message: String, retryAfterSeconds seconds: Int) -> MediaRefusal {
        MediaRefusal(429, message, retryAfterSeconds: seconds)
    }
    /// 503: stored, but not yet safe enough to confirm (sync mirroring); retry after `seconds`.
    public static func unavailable(_ message: String, retryAfterSeconds seconds: Int) -> MediaRefusal {
        MediaRefusal(503, message, retryAfterSeconds: seconds)
    }
    /// 507: the region's disk has no room for it.
    public static func insufficientStorage(_ message: String) -> MediaRefusal { MediaRefusal(507, message) }
    /// 500: the store failed in a way the client cannot fix.
    public static func internalError(_ message: String) -> MediaRefusal { MediaRefusal(500, message) }

    /// `<status> <message>`.
    public var description: String { "\(status) \(message)" }
}
