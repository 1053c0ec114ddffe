import Crypto
import Foundation

/// AWS Signature Version 4 (the "AWS4-HMAC-SHA256" scheme S3 and every
/// S3-compatible store speak), for requests signed in the `Authorization`
/// header and for presigned URLs (query-string authentication). Pure:
/// strings in, strings out; tested against AWS's published examples.
public struct SigV4: Sendable {
    /// The access key id.
    public var accessKey: String
    /// The secret access key.
    public var secretKey: String
    /// The region in the credential scope (`us-east-1`).
    public var region: String
    /// The service in the credential scope (`s3`).
    public var service: String

    /// A signer for `service` in `region` with these credentials.
    public init(accessKey: String, secretKey: String, region: String, service: String = "s3") {
        self.accessKey = accessKey
        self.secretKey = secretKey
        self.region = region
        self.service = service
    }

    /// The payload hash of a request whose body is not hashed (S3 allows it
    /// over any transport for presigned URLs, and with TLS for others).
    public static let unsignedPayload = "UNSIGNED-PAYLOAD"
    /// SHA-256 of no bytes.
    public static let emptyPayload = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    /// `YYYYMMDD'T'HHMMSS'Z'` of `date`.
    public static func timestamp(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        return formatter.string(from: date)
    }

    /// AWS's URI encoding: every byte but `A-Za-z0-9-_.~` as `%XX`
    /// (uppercase); `/` kept when `slash` is false (object key paths).
    public static func encode(_ text: String, encodeSlash: Bool = true) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                out.unicodeScalars.append(UnicodeScalar(byte))
            case UInt8(ascii: "/") where !encodeSlash:
                out += "/"
            default:
                out += String(format: "%%%02X", byte)
            }
        }
        return out
    }

    /// The canonical request (step 1): method, encoded path, query sorted
    /// by encoded name then value, lowercased headers sorted with trimmed
    /// values, the signed header names, the payload hash.
    public static func canonicalRequest(method: String, path: String, query: [(String, String)], headers: [(String, String)], payloadHash: String) -> (text: String, signedHeaders: String) {
        let encoded: [(name: String, value: String)] = query.map { (encode($0.0), encode($0.1)) }
        let sorted = encoded.sorted { a, b in a.name == b.name ? a.value < b.value : a.name < b.name }
        let canonicalQuery = sorted.map { pair in pair.name + "=" + pair.value }.joined(separator: "&")
        var merged: [String: [String]] = [:]
        for (name, value) in headers {
            let trimmed = value.split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ")
            merged[name.lowercased(), default: []].append(trimmed)
        }
        let names = merged.keys.sorted()
        let canonicalHeaders = names.map { "\($0):\(merged[$0, default: []].joined(separator: ","))\n" }.joined()
        let signed = names.joined(separator: ";")
        let text = [method, encode(path, encodeSlash: false), canonicalQuery, canonicalHeaders, signed, payloadHash].joined(separator: "\n")
        return (text, signed)
    }

    /// `<date>/<region>/<service>/aws4_request`.
    func scope(_ timestamp: String) -> String {
        "\(timestamp.prefix(8))/\(region)/\(service)/aws4_request"
    }

    /// The string to sign (step 2) of a canonical request.
    func stringToSign(_ canonical: String, timestamp: String) -> String {
        "AWS4-HMAC-SHA256\n\(timestamp)\n\(scope(timestamp))\n\(Self.hex(SHA256.hash(data: Array(canonical.utf8))))"
    }

    /// The signature (steps 3 and 4): HMAC chain from `AWS4<secret>` over date, region, service, `aws4_request`.
    func signature(_ stringToSign: String, timestamp: String) -> String {
        var key = SymmetricKey(data: Array("AWS4\(secretKey)".utf8))
        for part in [String(timestamp.prefix(8)), region, service, "aws4_request"] {
            key = SymmetricKey(data: Array(HMAC<SHA256>.authenticationCode(for: Array(part.utf8), using: key)))
        }
        return Self.hex(HMAC<SHA256>.authenticationCode(for: Array(stringToSign.utf8), using: key))
    }

    /// The `Authorization` header value for a request whose `headers`
    /// include `host` and `x-amz-date` (= `timestamp`).
    public func authorization(method: String, path: String, query: [(String, String)], headers: [(String, String)], payloadHash: String, timestamp: String) -> String {
        let (canonical, signed) = Self.canonicalRequest(method: method, path: path, query: query, headers: headers, payloadHash: payloadHash)
        let signature = signature(stringToSign(canonical, timestamp: timestamp), timestamp: timestamp)
        return "AWS4-HMAC-SHA256 Credential=\(accessKey)/\(scope(timestamp)), SignedHeaders=\(signed), Signature=\(signature)"
    }

    /// The query string of a presigned URL for `method` on `path` at `host`
    /// (only `host` signed, the payload unsigned), valid `expires` seconds
    /// from `timestamp`.
    public func presignedQuery(method: String, host: String, path: String, query: [(String, String)] = [], expires: Int, timestamp: String) -> String {
        var params = query + [
            ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
            ("X-Amz-Credential", "\(accessKey)/\(scope(timestamp))"),
            ("X-Amz-Date", timestamp),
            ("X-Amz-Expires", "\(expires)"),
            ("X-Amz-SignedHeaders", "host"),
        ]
        let (canonical, _) = Self.canonicalRequest(method: method, path: path, query: params, headers: [("host", host)], payloadHash: Self.unsignedPayload)
        params.append(("X-Amz-Signature", signature(stringToSign(canonical, timestamp: timestamp), timestamp: timestamp)))
        return params.map { "\(Self.encode($0.0))=\(Self.encode($0.1))" }.joined(separator: "&")
    }

    static func hex(_ bytes: some Sequence<UInt8>) -> String {
        bytes.map { String(format: "%02x", $0) }.joined()
    }
}
