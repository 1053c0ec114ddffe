/// Why a benchmark run failed.
public struct BenchError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong.
    public enum Kind: Hashable, Sendable {
        /// Bad command-line values.
        case invalidConfiguration
        /// A connection could not be made, or was closed or failed before the run ended.
        case connectionFailed
        /// The broker refused CONNECT or SUBSCRIBE, or sent a packet a client does not expect.
        case protocolViolation
        /// A bounded wait (connect, setup, overall deadline) ran out.
        case timedOut
    }

    public var kind: Kind
    public var detail: String

    public init(_ kind: Kind, _ detail: String) {
        self.kind = kind
        self.detail = detail
    }

    public var description: String { "\(kind): \(detail)" }
}
