import MQTTServer
import RelayCore

/// The decisions of one device's send (docs/protocol.md, "Sending"), as a
/// value: events in (the publish, the rate limiter's answer, the home
/// region, the store's answer), what to do out. No I/O, no clock, no
/// locks: ``ChatRouter`` performs each ``Action`` and feeds its outcome
/// back, as the engine's `ConnectionStateMachine` is driven by its handler
/// (decision 0031).
///
/// The order it enforces: the rate limit before anything is decoded or
/// stored; RelayCore's validation (`ConversationID`, `ValidatedSend`)
/// before any store or region is asked; in a multi-region deployment the
/// route (`SendRoute`) before sequencing or forwarding; a refusal at any
/// step tells the device why (a `Status REFUSED`, as 3.1.1 has no PUBACK
/// codes) and answers the PUBACK with the error's code.
struct SendMachine: Sendable {
    /// What the router must do next.
    enum Action: Sendable {
        /// Ask the rate limiter for `device`, then call ``admitted(_:)``.
        case checkRate(device: String)
        /// One region: store the send (`send.lua`), then ``stored(_:)`` or ``failed(_:)``.
        case store(ChatStore.Accept)
        /// Several regions: look up the conversation's home, then ``homeFound(_:map:sync:)`` or ``failed(_:)``.
        case findHome(ChatStore.Accept)
        /// This region serves the home: sequence it here (the same step a
        /// forwarded send takes), then ``sequenced()`` or ``failed(_:)``.
        case sequenceHere(ChatStore.Accept, home: String)
        /// Ship `send` to the region serving the home (and in sync mode a
        /// copy to this region's standby), wait as the mode says, then
        /// ``forwarded()`` or ``failed(_:)``.
        case forward(Relay_V1_ForwardedSend, to: String, standbyCopy: Relay_V1_ForwardedSend?, copyTo: String?)
        /// The send is over: perform `effects`, answer the PUBACK with `acknowledgement`.
        case finish(acknowledgement: MQTTPublishAcknowledgement, effects: Effects)
    }

    /// What follows a decided send, besides its PUBACK.
    struct Effects: Sendable {
        /// Tell the sending device now why the send was refused (`Status REFUSED`).
        var refusal: ChatError?
        /// The client message id for that status, "" when the payload has none.
        var refusedClientMessageID = ""
        /// Count the send as accepted.
        var countAccepted = false
        /// After a store in one region: what ``afterStored(_:_:)`` decided.
        var stored: Stored?
    }

    /// What a stored send leads to (one region, or sequenced here for a
    /// local or a forwarded send): the same rule on every path.
    struct Stored: Sendable {
        /// `Status SEQUENCED` for the sending device's queue.
        var sequenced: Relay_V1_Status
        /// The message to fan out, nil for a duplicate (stored and fanned out before).
        var fanOut: Relay_V1_ReplicatedMessage?
        /// A new 1:1 conversation: these users now share presence.
        var shareMembership: [String]?
    }

    /// The publish: `user`'s `device` sent `payload` on `s/<conversation>`.
    struct Request: Sendable {
        var conversation: String
        var user: String
        var device: String
        var payload: [UInt8]
    }

    private enum State: Sendable {
        case limiting
        case storing(ChatStore.Accept)
        case routing(ChatStore.Accept)
        case sequencing(ChatStore.Accept)
        case forwarding(ChatStore.Accept)
        case finished
    }

    /// The send being decided.
    let request: Request
    private let limits: SendLimits
    private let replicated: Bool
    private var state = State.limiting

    /// A send to decide, validated by `limits`, in a deployment with other
    /// regions (`replicated`) or without.
    init(_ request: Request, limits: SendLimits, replicated: Bool) {
        self.request = request
        self.limits = limits
        self.replicated = replicated
    }

    // MARK: - Events

    /// The first step: the rate limit, before anything is decoded.
    func start() -> Action {
        .checkRate(device: request.device)
    }

    /// The rate limiter answered: `refusal` when over the limit; a send
    /// it admits is stamped `nowMilliseconds` (the router's clock).
    mutating func admitted(_ refusal: ChatError?, nowMilliseconds: Int64) -> Action {
        guard case .limiting = state else { return unexpected("admitted") }
        if let refusal { return refuse(refusal) }
        let accept: ChatStore.Accept
        do throws(ChatError) {
            let peer = try ChatRouter.checkConversation(request.conversation, user: request.user)
            let send = try ChatRouter.checkSend(request.payload, limits: limits)
            accept = ChatStore.Accept(
                conversation: request.conversation, user: request.user, device: request.device,
                send: send, directPeer: peer, nowMilliseconds: nowMilliseconds)
        } catch {
            return refuse(error)
        }
        if replicated {
            state = .routing(accept)
            return .findHome(accept)
        }
        state = .storing(accept)
        return .store(accept)
    }

    /// The conversation's home as this region knows it (nil: unknown),
    /// seen by `map` mirroring in `sync` mode or not.
    mutating func homeFound(_ home: String?, map: RegionMap, sync: Bool) -> Action {
        guard case .routing(let accept) = state else { return unexpected("homeFound") }
        let route = SendRoute.of(
            user: accept.user, conversation: accept.conversation,
            isGroup: ConversationID(rawValue: accept.conversation)?.isGroup == true,
            home: home, map: map, sync: sync)
        switch route {
        case .refuse(let code, let message):
            return refuse(ChatError(code, message), clientMessageID: accept.clientMessageID)
        case .sequenceHere(let home):
            state = .sequencing(accept)
            return .sequenceHere(accept, home: home)
        case .forward(let serving, let standby):
            state = .forwarding(accept)
            let forwarded = Self.forwarded(accept)
            var copy: Relay_V1_ForwardedSend?
            if standby != nil {
                // Sync: the standby's copy makes the send survive the loss of this region
                // whatever the conversation's home (the standby passes it on; the home stores it once).
                copy = forwarded
                copy?.standbyCopy = true
            }
            return .forward(forwarded, to: serving, standbyCopy: copy, copyTo: standby)
        }
    }

    /// One region: the store took the send (or found it stored before).
    mutating func stored(_ accepted: ChatStore.Accepted) -> Action {
        guard case .storing(let accept) = state else { return unexpected("stored") }
        state = .finished
        return .finish(acknowledgement: .accepted, effects: Effects(countAccepted: true, stored: Self.afterStored(accept, accepted)))
    }

    /// Several regions: sequenced here (``ChatRouter/sequenceHere`` told
    /// the device and fanned out), or forwarded as the mode asks.
    mutating func sequenced() -> Action {
        guard case .sequencing = state else { return unexpected("sequenced") }
        state = .finished
        return .finish(acknowledgement: .accepted, effects: Effects())
    }

    /// Several regions: the forwarded send is in the outbox (and, in sync
    /// mode, confirmed by the standby).
    mutating func forwarded() -> Action {
        guard case .forwarding = state else { return unexpected("forwarded") }
        state = .finished
        return .finish(acknowledgement: .accepted, effects: Effects(countAccepted: true))
    }

    /// A step failed: the store's refusal (its error code), or the store or
    /// a link unavailable.
    mutating func failed(_ error: any Error) -> Action {
        switch state {
        case .storing(let accept), .routing(let accept), .sequencing(let accept), .forwarding(let accept):
            return refuse(ChatError(redis: error), clientMessageID: accept.clientMessageID)
        case .limiting:
            return refuse(ChatError(redis: error))
        case .finished:
            return unexpected("failed")
        }
    }

    // MARK: - Rules

    /// What a stored send leads to: SEQUENCED for the sending device; a
    /// new message (not a duplicate) is fanned out, and the first message
    /// of a 1:1 conversation makes its users share presence.
    static func afterStored(_ accept: ChatStore.Accept, _ accepted: ChatStore.Accepted) -> Stored {
        var status = Relay_V1_Status()
        status.kind = .sequenced
        status.conversation = accept.conversation
        status.epoch = accepted.epoch
        status.seq = accepted.seq
        status.clientMessageID = accept.clientMessageID
        guard !accepted.duplicate else { return Stored(sequenced: status) }
        let share = accepted.seq == 1 && !accept.directPeer.isEmpty ? Array(Set([accept.user, accept.directPeer])).sorted() : nil
        return Stored(sequenced: status, fanOut: ChatRouter.replicated(accept, accepted), shareMembership: share)
    }

    /// The frame body of a send forwarded to the region serving its home.
    static func forwarded(_ accept: ChatStore.Accept) -> Relay_V1_ForwardedSend {
        var forwarded = Relay_V1_ForwardedSend()
        forwarded.conversation = accept.conversation
        forwarded.user = accept.user
        forwarded.device = accept.device
        forwarded.send = accept.wire
        forwarded.receivedMs = accept.nowMilliseconds
        return forwarded
    }

    // MARK: - Private

    /// Refuses the send; the client message id is read from the payload
    /// when the send did not get as far as validating it.
    private mutating func refuse(_ error: ChatError, clientMessageID: String? = nil) -> Action {
        state = .finished
        let id = clientMessageID ?? ((try? Relay_V1_Send(serializedBytes: request.payload))?.clientMessageID ?? "")
        return .finish(acknowledgement: error.acknowledgement, effects: Effects(refusal: error, refusedClientMessageID: id))
    }

    /// An event the current state does not expect (a router bug): the
    /// send ends as unavailable rather than trapping.
    private mutating func unexpected(_ event: String) -> Action {
        refuse(ChatError(.unavailable, "internal: \(event) out of order; retry with the same client_message_id"))
    }
}
