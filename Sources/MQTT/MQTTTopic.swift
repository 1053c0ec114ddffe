/// Topic name and topic filter rules (MQTT 5.0 §4.7, §4.8.2).
public enum MQTTTopic {
    private static let slash = UInt8(ascii: "/")
    private static let plus = UInt8(ascii: "+")
    private static let hash = UInt8(ascii: "#")
    private static let dollar = UInt8(ascii: "$")
    private static let sharePrefix = Array("$share/".utf8)

    /// Checks a PUBLISH topic name: at least one byte, at most 65,535, no `+`
    /// or `#` (§4.7.3, §3.3.2.1). Empty levels ("a//b", "/a") are allowed.
    /// Throws `.topicNameInvalid`.
    public static func validateName(_ name: String) throws(MQTTError) {
        let utf8 = name.utf8
        guard !utf8.isEmpty else { throw MQTTError(.topicNameInvalid, "topic name is empty") }
        guard utf8.count <= MQTTLimits.maximumTopicLength else {
            throw MQTTError(.topicNameInvalid, "topic name is longer than 65,535 bytes")
        }
        let hasWildcard = Self.withBytes(name) { bytes in bytes.contains { $0 == Self.plus || $0 == Self.hash } }
        guard !hasWildcard else { throw MQTTError(.topicNameInvalid, "topic name holds a wildcard") }
    }

    /// Checks a topic filter: non-empty; `#` only alone as the last level;
    /// `+` only as a whole level (§4.7.1). A `$share/<group>/<filter>`
    /// filter needs a non-empty group without `+`, `#` or `/` and a valid filter (§4.8.2).
    /// Throws `.topicFilterInvalid`.
    public static func validateFilter(_ filter: String) throws(MQTTError) {
        let utf8 = filter.utf8
        guard !utf8.isEmpty else { throw MQTTError(.topicFilterInvalid, "topic filter is empty") }
        guard utf8.count <= MQTTLimits.maximumTopicLength else {
            throw MQTTError(.topicFilterInvalid, "topic filter is longer than 65,535 bytes")
        }
        let problem: String? = Self.withBytes(filter) { bytes in
            var filterStart = 0
            if Self.hasSharePrefix(bytes) {
                let groupStart = Self.sharePrefix.count
                guard let groupEnd = bytes[groupStart...].firstIndex(of: Self.slash) else {
                    return "shared subscription has no filter after its group"
                }
                guard groupEnd > groupStart else { return "shared subscription group is empty" }
                if bytes[groupStart..<groupEnd].contains(where: { $0 == Self.plus || $0 == Self.hash }) {
                    return "shared subscription group holds a wildcard"
                }
                filterStart = groupEnd + 1
                guard filterStart < bytes.count else { return "shared subscription filter is empty" }
            }
            var levelStart = filterStart
            var index = filterStart
            while index <= bytes.count {
                if index == bytes.count || bytes[index] == Self.slash {
                    let level = bytes[levelStart..<index]
                    if level.contains(Self.hash) {
                        guard level.count == 1 else { return "'#' is not a whole level" }
                        guard index == bytes.count else { return "'#' is not the last level" }
                    } else if level.contains(Self.plus) {
                        guard level.count == 1 else { return "'+' is not a whole level" }
                    }
                    levelStart = index + 1
                }
                index += 1
            }
            return nil
        }
        if let problem { throw MQTTError(.topicFilterInvalid, problem) }
    }

    /// True when `topic` matches `filter` (§4.7). `+` matches one level
    /// (possibly empty), `#` the rest, including the parent level
    /// ("sport/#" matches "sport"). Filters starting with a wildcard do not
    /// match topics starting with `$` (§4.7.2). A shared subscription
    /// `$share/<group>/<filter>` matches as its `<filter>`. An invalid
    /// filter may match nothing or something; validate it first.
    public static func matches(filter: String, topic: String) -> Bool {
        Self.withBytes(filter) { filterBytes in
            Self.withBytes(topic) { topicBytes in
                Self.matches(filter: filterBytes, topic: topicBytes)
            }
        }
    }

    /// Splits `$share/<group>/<filter>` into its group and filter, or nil
    /// when `filter` is not a shared subscription (§4.8.2): it does not start
    /// with `$share/`, or its group or filter is empty.
    public static func sharedSubscription(_ filter: String) -> (group: String, filter: String)? {
        let utf8 = filter.utf8
        guard Self.isSharedSubscription(filter) else { return nil }
        let groupStart = utf8.index(utf8.startIndex, offsetBy: Self.sharePrefix.count)
        guard let groupEnd = utf8[groupStart...].firstIndex(of: Self.slash), groupEnd > groupStart else { return nil }
        let filterStart = utf8.index(after: groupEnd)
        guard filterStart < utf8.endIndex else { return nil }
        return (String(filter[groupStart..<groupEnd]), String(filter[filterStart...]))
    }

    /// True when `filter` starts with `$share/`.
    static func isSharedSubscription(_ filter: String) -> Bool {
        filter.utf8.starts(with: Self.sharePrefix)
    }

    // MARK: Internals

    private static func hasSharePrefix(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        bytes.starts(with: Self.sharePrefix)
    }

    /// Runs `body` over the UTF-8 bytes of `string`, without copying a native string.
    @inline(__always)
    private static func withBytes<R>(_ string: String, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        if let result = string.utf8.withContiguousStorageIfAvailable(body) { return result }
        return Array(string.utf8).withUnsafeBufferPointer(body)
    }

    private static func matches(filter: UnsafeBufferPointer<UInt8>, topic: UnsafeBufferPointer<UInt8>) -> Bool {
        var filter = filter
        if Self.hasSharePrefix(filter) {
            let groupStart = Self.sharePrefix.count
            guard let groupEnd = filter[groupStart...].firstIndex(of: Self.slash) else { return false }
            filter = UnsafeBufferPointer(rebasing: filter[(groupEnd + 1)...])
        }
        guard !filter.isEmpty, !topic.isEmpty else { return false }
        if topic[0] == Self.dollar && (filter[0] == Self.plus || filter[0] == Self.hash) { return false }

        var filterIndex = 0
        var topicIndex = 0
        var topicExhausted = false
        while true {
            let filterEnd = filter[filterIndex...].firstIndex(of: Self.slash) ?? filter.count
            let filterLevel = filter[filterIndex..<filterEnd]
            if filterLevel.count == 1 && filterLevel.first == Self.hash { return true }
            if topicExhausted { return false }
            let topicEnd = topic[topicIndex...].firstIndex(of: Self.slash) ?? topic.count
            if !(filterLevel.count == 1 && filterLevel.first == Self.plus) {
                guard filterLevel.elementsEqual(topic[topicIndex..<topicEnd]) else { return false }
            }
            let lastFilterLevel = filterEnd == filter.count
            let lastTopicLevel = topicEnd == topic.count
            if lastFilterLevel { return lastTopicLevel }
            filterIndex = filterEnd + 1
            if lastTopicLevel { topicExhausted = true } else { topicIndex = topicEnd + 1 }
        }
    }
}
