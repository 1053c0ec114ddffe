// API STUBS: the codec helper replaces these bodies.

/// Topic name and topic filter rules (MQTT 5.0 §4.7).
public enum MQTTTopic {
    /// Checks a PUBLISH topic name: at least one byte, no `+` or `#` (§4.7.3, §3.3.2.1).
    public static func validateName(_ name: String) throws(MQTTError) {
        fatalError("unimplemented")
    }

    /// Checks a topic filter: non-empty; `#` only alone as the last level;
    /// `+` only as a whole level (§4.7.1). A `$share/<group>/<filter>`
    /// filter needs a non-empty group without `+`, `#` or `/` and a valid filter (§4.8.2).
    public static func validateFilter(_ filter: String) throws(MQTTError) {
        fatalError("unimplemented")
    }

    /// True when `topic` matches `filter`. Filters starting with a wildcard
    /// do not match topics starting with `$` (§4.7.2).
    public static func matches(filter: String, topic: String) -> Bool {
        fatalError("unimplemented")
    }

    /// Splits `$share/<group>/<filter>` into its group and filter, or nil
    /// when `filter` is not a shared subscription (§4.8.2).
    public static func sharedSubscription(_ filter: String) -> (group: String, filter: String)? {
        fatalError("unimplemented")
    }
}
