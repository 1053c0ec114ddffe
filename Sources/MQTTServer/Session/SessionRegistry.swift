import MQTT
import NIOConcurrencyHelpers
import NIOCore

/// All sessions of one server, by client identifier. Opens, resumes, takes
/// over and ends sessions (MQTT 5.0 §3.1.4, §4.1).
final class SessionRegistry: Sendable {
    private let sessions = NIOLockedValueBox<[String: MQTTSession]>([:])
    private let router: any MQTTRouter
    private let limits: MQTTSession.Limits

    init(router: any MQTTRouter, configuration: MQTTServerConfiguration) {
        self.router = router
        self.limits = MQTTSession.Limits(maximumQueuedMessages: configuration.maximumQueuedMessages)
    }

    /// The session of `clientIdentifier`, if one exists.
    func session(_ clientIdentifier: String) -> MQTTSession? {
        sessions.withLockedValue { $0[clientIdentifier] }
    }

    /// Every session.
    var allSessions: [MQTTSession] {
        sessions.withLockedValue { Array($0.values) }
    }

    var count: Int {
        sessions.withLockedValue { $0.count }
    }

    /// Opens the session for a connection that completed CONNECT. With
    /// Clean Start, or when none exists, a new session replaces any old one
    /// (whose connection is taken over and which ends). Otherwise the
    /// existing session is resumed, after taking over its connection if it
    /// has one. Completes on `link`'s event loop with the session and the
    /// state to resume (nil: start empty, Session Present 0).
    func open(
        _ request: ConnectionStateMachine.SessionRequest,
        link: ConnectionLink
    ) -> EventLoopFuture<(MQTTSession, SessionState?)> {
        let loop = link.eventLoop
        enum Plan {
            case fresh(MQTTSession, replacing: MQTTSession?)
            case resume(MQTTSession)
        }
        let plan: Plan = sessions.withLockedValue { sessions in
            let existing = sessions[request.clientIdentifier]
            if let existing, !request.cleanStart, !existing.hasEnded {
                return .resume(existing)
            }
            let fresh = MQTTSession(clientIdentifier: request.clientIdentifier, principal: request.principal, link: link, limits: limits)
            sessions[request.clientIdentifier] = fresh
            return .fresh(fresh, replacing: existing)
        }
        switch plan {
        case .fresh(let session, let old):
            if let old { retire(old) }
            return loop.makeSucceededFuture((session, nil))
        case .resume(let session):
            return resume(session, request: request, link: link)
        }
    }

    private func resume(_ session: MQTTSession, request: ConnectionStateMachine.SessionRequest, link: ConnectionLink) -> EventLoopFuture<(MQTTSession, SessionState?)> {
        let loop = link.eventLoop
        switch session.attach(link, principal: request.principal) {
        case .attached(let state):
            return loop.makeSucceededFuture((session, state))
        case .ended:
            return open(request, link: link)
        case .busy(let current):
            // Take the old connection over, then try again (MQTT 5.0 §3.1.4 point 3).
            let detached = current.eventLoop.makePromise(of: Void.self)
            current.afterPendingInput { $0.takeOver(sessionContinues: true, detached: detached) }
            return detached.futureResult.hop(to: loop).flatMap {
                self.resume(session, request: request, link: link)
            }
        }
    }

    /// Ends a session that a clean start replaced: its connection (if any) is
    /// taken over and its state discarded.
    private func retire(_ old: MQTTSession) {
        if let current = old.currentLink {
            current.afterPendingInput { $0.takeOver(sessionContinues: false, detached: nil) }
        }
        end(old)
    }

    /// A connection closed: store its session, or end it when the session
    /// expiry is 0. Schedules expiry and a delayed will.
    func detach(
        _ session: MQTTSession,
        link: ConnectionLink,
        state: SessionState,
        expiry: UInt32,
        handOver: Bool
    ) {
        guard session.detach(link, state: state) else { return }
        router.sessionDisconnected(session)
        if handOver { return }
        if expiry == 0 {
            end(session)
        } else if expiry != MQTTLimits.sessionNeverExpires {
            session.scheduleExpiry(after: expiry, on: link.eventLoop) { [self] in
                end(session)
            }
        }
    }

    /// Ends a session: it leaves the registry, the router forgets it, and a
    /// will still waiting for its delay is published now.
    func end(_ session: MQTTSession) {
        let will = session.end()
        sessions.withLockedValue { sessions in
            if sessions[session.clientIdentifier] === session {
                sessions[session.clientIdentifier] = nil
            }
        }
        if let will { publishWill(will, from: session) }
        router.sessionEnded(session)
    }

    /// Publishes a will message on behalf of `session`.
    func publishWill(_ message: MQTTMessage, from session: MQTTSession) {
        _ = router.publish(message, from: session)
    }
}
