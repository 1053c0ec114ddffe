/// A topic a device publishes to, parsed (docs/protocol.md, "Topics"):
/// `s/<conversation>`, `r/<conversation>`, `t/<conversation>` or `q/<method>`.
public enum DeviceTopic: Hashable, Sendable {
    /// `s/<conversation>`: a `Send`, QoS 1.
    case send(ConversationID)
    /// `r/<conversation>`: a `Receipt`, QoS 1.
    case receipt(ConversationID)
    /// `t/<conversation>`: a `Typing`, QoS 0, never stored.
    case typing(ConversationID)
    /// `q/<method>`: a `Request`, QoS 1. The method is syntactically valid;
    /// ``RequestMethod`` names the known ones.
    case request(method: String)

    /// The most bytes a request method may have.
    public static let maximumMethodLength = 64

    /// Parses an inbound topic name, or says why a device may not publish there.
    public init(parsing topic: String) throws(TopicRefusal) {
        let bytes = topic.utf8
        guard bytes.count >= 2,
            let kind = bytes.first,
            bytes[bytes.index(after: bytes.startIndex)] == UInt8(ascii: "/")
        else {
            throw .notPermitted
        }
        let rest = String(decoding: topic.utf8.dropFirst(2), as: UTF8.self)  // after two ASCII bytes: on a boundary
        switch kind {
        case UInt8(ascii: "s"), UInt8(ascii: "r"), UInt8(ascii: "t"):
            let conversation: ConversationID
            do {
                conversation = try ConversationID(validating: rest)
            } catch {
                throw .invalidConversation(error)
            }
            switch kind {
            case UInt8(ascii: "s"): self = .send(conversation)
            case UInt8(ascii: "r"): self = .receipt(conversation)
            default: self = .typing(conversation)
            }
        case UInt8(ascii: "q"):
            guard !rest.isEmpty, rest.utf8.count <= Self.maximumMethodLength,
                rest.utf8.allSatisfy({ IdentifierSyntax.isAllowed($0) || $0 == UInt8(ascii: ".") })
            else {
                throw .invalidMethod
            }
            self = .request(method: rest)
        default:
            throw .notPermitted
        }
    }

    /// The QoS the device is expected to publish with: 0 for typing, 1 otherwise.
    public var qos: UInt8 {
        if case .typing = self { return 0 }
        return 1
    }
}

/// Why a device may not publish to a topic.
public enum TopicRefusal: RelayRefusal, Hashable {
    /// The topic is not one of the device topics (`s/`, `r/`, `t/`, `q/`).
    case notPermitted
    /// `s/`, `r/` or `t/` is followed by something that is not a conversation id.
    case invalidConversation(IdentifierError)
    /// `q/` is followed by something that is not a method name
    /// (1–64 bytes of `[A-Za-z0-9._-]`).
    case invalidMethod

    /// `forbidden_topic` or `bad_request`.
    public var code: ErrorCode {
        switch self {
        case .notPermitted: return .forbiddenTopic
        case .invalidConversation, .invalidMethod: return .badRequest
        }
    }

    /// 0x87 Not authorized for a topic outside the device topics, 0x90 Topic
    /// Name invalid for a malformed conversation or method.
    public var reasonCode: UInt8 {
        switch self {
        case .notPermitted: return RefusalReasonCode.notAuthorized
        case .invalidConversation, .invalidMethod: return RefusalReasonCode.topicNameInvalid
        }
    }

    /// A one-line explanation.
    public var message: String {
        switch self {
        case .notPermitted: return "devices may publish only to s/, r/, t/ and q/ topics"
        case .invalidConversation(let error): return error.description
        case .invalidMethod: return "request method must be 1-64 bytes of A-Z a-z 0-9 . _ -"
        }
    }
}
