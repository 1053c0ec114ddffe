import CSignal

/// A libsignal-protocol-c error code (`SG_ERR_*`), or a failure of the
/// wrapper itself, as a typed Swift error.
///
/// `code` is stable and comparable; `function` names the call that failed,
/// for diagnostics only.
public struct SignalError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong.
    public struct Code: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        /// The `SG_ERR_*` number (negative); wrapper failures use positive numbers.
        public let rawValue: Int32
        /// Wraps an `SG_ERR_*` number.
        public init(rawValue: Int32) { self.rawValue = rawValue }

        /// `SG_ERR_NOMEM`
        public static let noMemory = Code(rawValue: -12)
        /// `SG_ERR_INVAL`: invalid argument.
        public static let invalidArgument = Code(rawValue: -22)
        /// `SG_ERR_UNKNOWN` (also what a failing store callback reports).
        public static let unknown = Code(rawValue: -1000)
        /// `SG_ERR_DUPLICATE_MESSAGE`: this message was decrypted before (its key is gone).
        public static let duplicateMessage = Code(rawValue: -1001)
        /// `SG_ERR_INVALID_KEY`: a key is malformed or a signature does not verify.
        public static let invalidKey = Code(rawValue: -1002)
        /// `SG_ERR_INVALID_KEY_ID`: the prekey the message names is not (or no longer) here.
        public static let invalidKeyID = Code(rawValue: -1003)
        /// `SG_ERR_INVALID_MAC`
        public static let invalidMAC = Code(rawValue: -1004)
        /// `SG_ERR_INVALID_MESSAGE`: malformed, or too far ahead in the chain.
        public static let invalidMessage = Code(rawValue: -1005)
        /// `SG_ERR_INVALID_VERSION`
        public static let invalidVersion = Code(rawValue: -1006)
        /// `SG_ERR_LEGACY_MESSAGE`
        public static let legacyMessage = Code(rawValue: -1007)
        /// `SG_ERR_NO_SESSION`: no session (or sender key) to decrypt with.
        public static let noSession = Code(rawValue: -1008)
        /// `SG_ERR_STALE_KEY_EXCHANGE`
        public static let staleKeyExchange = Code(rawValue: -1009)
        /// `SG_ERR_UNTRUSTED_IDENTITY`: the peer's identity key changed and was not accepted.
        public static let untrustedIdentity = Code(rawValue: -1010)
        /// `SG_ERR_INVALID_PROTO_BUF`: bytes that are not a Signal message.
        public static let invalidProtobuf = Code(rawValue: -1100)
        /// `SG_ERR_FP_VERSION_MISMATCH`
        public static let fingerprintVersionMismatch = Code(rawValue: -1200)
        /// `SG_ERR_FP_IDENT_MISMATCH`
        public static let fingerprintIdentityMismatch = Code(rawValue: -1201)
        /// A key or record did not have the size or form the wrapper expects.
        public static let malformedInput = Code(rawValue: 1)
        /// A store (`SignalProtocolStore`) threw.
        public static let storeFailed = Code(rawValue: 2)

        public var description: String {
            switch self {
            case .noMemory: "no memory"
            case .invalidArgument: "invalid argument"
            case .unknown: "unknown error"
            case .duplicateMessage: "duplicate message"
            case .invalidKey: "invalid key"
            case .invalidKeyID: "invalid key id"
            case .invalidMAC: "invalid MAC"
            case .invalidMessage: "invalid message"
            case .invalidVersion: "invalid version"
            case .legacyMessage: "legacy message"
            case .noSession: "no session"
            case .staleKeyExchange: "stale key exchange"
            case .untrustedIdentity: "untrusted identity"
            case .invalidProtobuf: "not a Signal message"
            case .fingerprintVersionMismatch: "fingerprint version mismatch"
            case .fingerprintIdentityMismatch: "fingerprint identity mismatch"
            case .malformedInput: "malformed input"
            case .storeFailed: "store failed"
            default: "error \(rawValue)"
            }
        }
    }

    /// The error.
    public let code: Code
    /// The call that failed (diagnostics).
    public let function: String

    /// An error of `code` from `function`.
    public init(_ code: Code, function: String) {
        self.code = code
        self.function = function
    }

    public var description: String { "\(function): \(code)" }

    /// Throws unless `result` is `SG_SUCCESS` or positive (some calls return counts).
    static func check(_ result: Int32, _ function: String) throws(SignalError) {
        if result < 0 { throw SignalError(Code(rawValue: result), function: function) }
    }
}
