import CMosquitto

/// A libmosquitto error code (`enum mosq_err_t`), as a typed Swift error.
///
/// `code` is stable and comparable; `function` names the libmosquitto call
/// that returned it, for diagnostics only.
public struct MosquittoError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A libmosquitto `MOSQ_ERR_*` value.
    public struct Code: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        /// The `MOSQ_ERR_*` number.
        public let rawValue: Int32
        /// Wraps a `MOSQ_ERR_*` number.
        public init(rawValue: Int32) { self.rawValue = rawValue }

        /// `MOSQ_ERR_NOMEM`
        public static let noMemory = Code(rawValue: 1)
        /// `MOSQ_ERR_PROTOCOL`
        public static let protocolError = Code(rawValue: 2)
        /// `MOSQ_ERR_INVAL`: invalid arguments.
        public static let invalid = Code(rawValue: 3)
        /// `MOSQ_ERR_NO_CONN`: not connected.
        public static let noConnection = Code(rawValue: 4)
        /// `MOSQ_ERR_CONN_REFUSED`
        public static let connectionRefused = Code(rawValue: 5)
        /// `MOSQ_ERR_NOT_FOUND`
        public static let notFound = Code(rawValue: 6)
        /// `MOSQ_ERR_CONN_LOST`
        public static let connectionLost = Code(rawValue: 7)
        /// `MOSQ_ERR_TLS`
        public static let tls = Code(rawValue: 8)
        /// `MOSQ_ERR_PAYLOAD_SIZE`
        public static let payloadSize = Code(rawValue: 9)
        /// `MOSQ_ERR_NOT_SUPPORTED`
        public static let notSupported = Code(rawValue: 10)
        /// `MOSQ_ERR_AUTH`
        public static let authentication = Code(rawValue: 11)
        /// `MOSQ_ERR_ACL_DENIED`
        public static let aclDenied = Code(rawValue: 12)
        /// `MOSQ_ERR_UNKNOWN`
        public static let unknown = Code(rawValue: 13)
        /// `MOSQ_ERR_ERRNO`: a system call failed (see `errno`).
        public static let errno = Code(rawValue: 14)
        /// `MOSQ_ERR_EAI`: name lookup failed.
        public static let addressLookup = Code(rawValue: 15)
        /// `MOSQ_ERR_MALFORMED_UTF8`
        public static let malformedUTF8 = Code(rawValue: 18)
        /// `MOSQ_ERR_KEEPALIVE`
        public static let keepAlive = Code(rawValue: 19)
        /// `MOSQ_ERR_DUPLICATE_PROPERTY`
        public static let duplicateProperty = Code(rawValue: 22)
        /// `MOSQ_ERR_TLS_HANDSHAKE`
        public static let tlsHandshake = Code(rawValue: 23)
        /// `MOSQ_ERR_QOS_NOT_SUPPORTED`
        public static let qosNotSupported = Code(rawValue: 24)
        /// `MOSQ_ERR_OVERSIZE_PACKET`
        public static let oversizePacket = Code(rawValue: 25)
        /// `MOSQ_ERR_TIMEOUT`
        public static let timeout = Code(rawValue: 27)
        /// `MOSQ_ERR_TOPIC_ALIAS_INVALID`
        public static let topicAliasInvalid = Code(rawValue: 29)

        /// libmosquitto's own text for the code (`mosquitto_strerror`).
        public var description: String { String(cString: mosquitto_strerror(rawValue)) }
    }

    /// What went wrong.
    public let code: Code
    /// The libmosquitto function that reported it.
    public let function: String

    /// An error `code` returned by `function`.
    public init(_ code: Code, function: String) {
        self.code = code
        self.function = function
    }

    public var description: String { "\(function): \(code) (\(code.rawValue))" }

    /// Throws unless `rc` is `MOSQ_ERR_SUCCESS`.
    static func check(_ rc: Int32, _ function: String) throws(MosquittoError) {
        if rc != 0 { throw MosquittoError(Code(rawValue: rc), function: function) }
    }
}

/// Failures of `MosquittoClient` operations that are not a libmosquitto return code.
public enum MosquittoClientError: Error, Sendable, Equatable {
    /// The broker answered CONNECT with a failure reason code (MQTT 5 0x80 and up,
    /// MQTT 3.1.1 return codes 1–5). The acknowledgement carries its properties,
    /// e.g. a Server Reference with 0x9C / 0x9D.
    case refused(ConnectAcknowledgement)
    /// The link went down before the awaited acknowledgement arrived.
    case connectionLost(Disconnection)
    /// No acknowledgement within the given time.
    case timedOut
    /// `connect` was called while a connection is open or being opened.
    case busy
    /// The client was closed.
    case closed
}
