import Foundation

/// What a provider's answer to one push means for the relay.
public enum PushOutcome: Sendable, Equatable {
    /// Accepted (2xx): the push is done.
    case sent
    /// The registration is gone (404, 410; APNs' `Unregistered`, FCM's
    /// `UNREGISTERED`): remove it, never try it again.
    case gone
    /// Worth another try later (429, 5xx, a connection failure), not before
    /// `retryAfter` seconds when the provider said so.
    case retry(retryAfter: Int?)
    /// Too many pushes to this one registration (APNs' 429
    /// `TooManyRequests`): worth another try later, like ``retry(retryAfter:)``,
    /// but the provider itself answered as it should, so it does not count
    /// against the provider's circuit breaker.
    case throttledDevice(retryAfter: Int?)
    /// Refused for good (another 4xx: a malformed request, a bad key, too large).
    case rejected

    /// Classifies an HTTP status and its `Retry-After` header.
    public static func classify(status: Int, retryAfter: String?) -> PushOutcome {
        switch status {
        case 200..<300: return .sent
        case 404, 410: return .gone
        case 429, 500..<600: return .retry(retryAfter: retryAfter.flatMap(RetryAfter.seconds(from:)))
        default: return .rejected
        }
    }

    /// The reason label of a failure with `outcome` (however a provider
    /// classified `status`): "gone", "rejected_<status>", "throttled", "server_error".
    public static func reason(of outcome: PushOutcome, status: Int) -> String {
        switch outcome {
        case .gone: return "gone"
        case .rejected: return "rejected_\(status)"
        case .sent, .retry, .throttledDevice: return reason(status: status)
        }
    }

    /// Whether this answer says the provider itself is failing (a 5xx, a
    /// provider-wide 429, no connection): what a circuit breaker counts.
    public var isProviderFailure: Bool {
        if case .retry = self { return true }
        return false
    }

    /// The reason label of a failure in metrics: "gone", "rejected_<status>", "status_<status>", ….
    public static func reason(status: Int) -> String {
        switch status {
        case 404, 410: return "gone"
        case 429: return "throttled"
        case 500..<600: return "server_error"
        default: return "rejected_\(status)"
        }
    }
}

/// `Retry-After` (RFC 9110 §10.2.3) as delay-seconds; an HTTP-date is
/// read as "unknown" (nil), and the backoff applies.
public enum RetryAfter {
    /// The longest wait honoured, in seconds (a provider asking for more is
    /// capped: the push's TTL is shorter than that anyway).
    public static let maximumSeconds = 3600

    /// Seconds, or nil when the value is not a non-negative integer.
    public static func seconds(from value: String) -> Int? {
        let text = value.trimmingCharacters(in: .whitespaces)
        guard !text.isEmpty, text.count <= 10, text.allSatisfy(\.isNumber), let seconds = Int(text) else { return nil }
        return min(seconds, maximumSeconds)
    }
}
