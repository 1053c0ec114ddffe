import Foundation
import Synchronization

/// Server-sent events to every open page: the latest deployment fragment
/// and drills fragment, kept so that a page that connects gets both at once.
/// Slow readers lose older events, never block the others.
package final class ConsoleEvents: Sendable {
    /// An event name and its data (HTML).
    package struct Event: Sendable, Equatable {
        package var name: String
        package var data: String

        /// The event as `text/event-stream` text: one `data:` line per line of `data` (WHATWG HTML §9.2).
        package var encoded: String {
            var text = "event: \(name)\n"
            // CR, LF and CRLF all end a line in an event stream; "\r\n" is one Character.
            let lines = data.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
            for line in lines.split(separator: "\n", omittingEmptySubsequences: false) {
                text += "data: \(line)\n"
            }
            return text + "\n"
        }
    }

    private struct State {
        var latest: [String: Event] = [:]
        var subscribers: [Int: AsyncStream<Event>.Continuation] = [:]
        var nextID = 0
        var finished = false
    }

    private let state = Mutex(State())

    /// Events a subscriber may fall behind by before it loses the oldest.
    static let buffered = 16

    /// No subscribers yet.
    package init() {}

    /// Sends `event` to every subscriber and keeps it as the latest of its name.
    package func publish(_ event: Event) {
        let continuations = state.withLock { state in
            state.latest[event.name] = event
            return Array(state.subscribers.values)
        }
        for continuation in continuations { continuation.yield(event) }
    }

    /// The latest event of `name`, if any.
    package func latest(_ name: String) -> Event? {
        state.withLock { $0.latest[name] }
    }

    /// A stream that starts with the latest events and then gets every new one,
    /// until the subscriber stops reading or `finish` is called.
    package func subscribe() -> AsyncStream<Event> {
        let (stream, continuation) = AsyncStream<Event>.makeStream(bufferingPolicy: .bufferingNewest(Self.buffered))
        let id = state.withLock { state in
            defer { state.nextID += 1 }
            return state.nextID
        }
        // Set before the subscriber is added, so that no end of the stream goes unseen.
        continuation.onTermination = { [weak self] _ in
            self?.state.withLock { _ = $0.subscribers.removeValue(forKey: id) }
        }
        // The latest events are yielded under the lock: a publish after it comes after them.
        let finished = state.withLock { state in
            for event in state.latest.values.sorted(by: { $0.name < $1.name }) { continuation.yield(event) }
            if !state.finished { state.subscribers[id] = continuation }
            return state.finished
        }
        if finished { continuation.finish() }
        return stream
    }

    /// Ends every stream (shutting down); later subscribers get the latest events and an end.
    package func finish() {
        let continuations = state.withLock { state in
            state.finished = true
            defer { state.subscribers = [:] }
            return Array(state.subscribers.values)
        }
        for continuation in continuations { continuation.finish() }
    }

    /// Open streams.
    package var subscriberCount: Int {
        state.withLock { $0.subscribers.count }
    }
}
