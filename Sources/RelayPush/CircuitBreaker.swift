/// A circuit breaker per push service origin: after `threshold` failures
/// in a row (5xx, 429, no connection) the origin is left alone for
/// `cooldown`; then one trial request decides whether it closes again.
/// Pure: the caller passes the time and performs what it answers.
public struct CircuitBreaker: Sendable, Equatable {
    /// Failures in a row that open the circuit.
    public let threshold: Int
    /// How long an open circuit refuses, in milliseconds.
    public let cooldownMilliseconds: Int64

    /// The circuit's state.
    public enum State: Sendable, Equatable {
        /// Requests go; `failures` in a row so far.
        case closed(failures: Int)
        /// No requests until `until` (ms).
        case open(until: Int64)
        /// One trial request is out.
        case halfOpen
    }

    /// The current state.
    public private(set) var state: State = .closed(failures: 0)

    /// A closed circuit.
    public init(threshold: Int = 5, cooldownMilliseconds: Int64 = 30_000) {
        self.threshold = max(1, threshold)
        self.cooldownMilliseconds = cooldownMilliseconds
    }

    /// What a request about to go should do.
    public enum Admission: Sendable, Equatable {
        /// Send it.
        case send
        /// Send it as the trial of a half-open circuit.
        case trial
        /// Do not send; try again at this time (ms).
        case deferUntil(Int64)
    }

    /// Asks whether a request may go at `now` (ms).
    public mutating func admit(now: Int64) -> Admission {
        switch state {
        case .closed: return .send
        case .halfOpen: return .deferUntil(now + 1000)
        case .open(let until):
            guard now >= until else { return .deferUntil(until) }
            state = .halfOpen
            return .trial
        }
    }

    /// The provider answered (any status but 429 and 5xx).
    public mutating func succeeded() {
        state = .closed(failures: 0)
    }

    /// The request failed (429, 5xx, no connection) at `now` (ms).
    public mutating func failed(now: Int64) {
        switch state {
        case .closed(let failures):
            state = failures + 1 >= threshold ? .open(until: now + cooldownMilliseconds) : .closed(failures: failures + 1)
        case .halfOpen, .open:
            state = .open(until: now + cooldownMilliseconds)
        }
    }
}
