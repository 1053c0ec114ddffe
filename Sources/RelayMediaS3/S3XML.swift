/// The few values read from S3's XML answers (`UploadId`, `Key`,
/// `IsTruncated`, `NextContinuationToken`), by tag, with the five XML
/// entities decoded. Pure.
enum S3XML {
    /// Every `<tag>value</tag>` in `xml`, in order.
    static func values(of tag: String, in xml: String) -> [String] {
        var out: [String] = []
        var rest = Substring(xml)
        let open = "<\(tag)>", close = "</\(tag)>"
        while let start = rest.range(of: open) {
            rest = rest[start.upperBound...]
            guard let end = rest.range(of: close) else { break }
            out.append(decode(String(rest[..<end.lowerBound])))
            rest = rest[end.upperBound...]
        }
        return out
    }

    static func decode(_ text: String) -> String {
        text.replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&apos;", with: "'")
            .replacingOccurrences(of: "&amp;", with: "&")
    }
}
