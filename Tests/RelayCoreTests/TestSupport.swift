import RelayCore

/// A user id known to be valid.
func user(_ raw: String) -> UserID { UserID(rawValue: raw)! }
/// A device id known to be valid.
func device(_ raw: String) -> DeviceID { DeviceID(rawValue: raw)! }
/// A group id known to be valid.
func group(_ raw: String) -> ConversationID {
    let id = ConversationID(rawValue: raw)!
    precondition(id.isGroup)
    return id
}

/// A deterministic generator (SplitMix64) for tests of random ids.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
