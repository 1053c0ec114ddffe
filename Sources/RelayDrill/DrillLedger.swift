/// Everything the drill's devices did and received, as they saw it: each
/// composed send with its acknowledgement, and each `Delivery` in arrival
/// order. The checker (``DrillChecker``) computes the report from this alone.
///
/// Times are milliseconds since the drill started (``DrillClock``).
final class DrillLedger: Sendable {
    /// One message a device composed, and what became of it.
    struct Send: Sendable, Hashable {
        /// The client message id, unique in the drill; every retry reuses it.
        var id: String
        /// The sending device (index into the drill's devices).
        var sender: Int
        /// The device that should receive it: the other member of the conversation.
        var recipient: Int
        /// The 1:1 conversation.
        var conversation: String
        /// When the traffic scheduler composed it.
        var composedMs: Double
        /// When it was first published, if ever.
        var firstPublishedMs: Double?
        /// When a PUBACK with 0x00 came, if ever.
        var ackedMs: Double?
        /// Publishes so far.
        var attempts = 0
        /// The last PUBACK reason code that was a refusal, if any.
        var lastRefusal: UInt8?
    }

    /// One `Delivery` a device received on `d/<device>/m`.
    struct Delivery: Sendable, Hashable {
        /// The receiving device (index into the drill's devices).
        var device: Int
        var conversation: String
        var epoch: UInt32
        var seq: UInt64
        var clientMessageID: String
        /// When the device's client reported it.
        var arrivalMs: Double
    }

    /// The whole book, and counters that waits look at.
    struct Book: Sendable {
        var sends: [Send] = []
        var deliveries: [Delivery] = []
        /// Index into `sends` by client message id.
        var sendIndex: [String: Int] = [:]
        /// Sends acknowledged with 0x00.
        var acked = 0
        /// Sends delivered at least once to their recipient.
        var delivered: Set<String> = []
        /// Sends acknowledged and delivered to their recipient.
        var ackedAndDelivered = 0
        /// Devices that received at least one delivery of a drill send.
        var receivingDevices: Set<Int> = []

        /// Every composed send was acknowledged and every acknowledged one delivered.
        var settled: Bool { acked == sends.count && ackedAndDelivered == acked }
    }

    /// The book, awaitable.
    let book = AwaitableState(Book())

    /// Records a composed send; returns its index.
    func compose(id: String, sender: Int, recipient: Int, conversation: String, at ms: Double) -> Int {
        book.update { book in
            book.sends.append(Send(id: id, sender: sender, recipient: recipient, conversation: conversation, composedMs: ms))
            book.sendIndex[id] = book.sends.count - 1
            return book.sends.count - 1
        }
    }

    /// Records one publish of send `index`.
    func published(_ index: Int, at ms: Double) {
        book.update { book in
            book.sends[index].attempts += 1
            if book.sends[index].firstPublishedMs == nil { book.sends[index].firstPublishedMs = ms }
        }
    }

    /// Records the PUBACK of send `index` with `reasonCode`.
    func acknowledged(_ index: Int, reasonCode: UInt8, at ms: Double) {
        book.update { book in
            guard reasonCode == 0 else {
                book.sends[index].lastRefusal = reasonCode
                return
            }
            guard book.sends[index].ackedMs == nil else { return }
            book.sends[index].ackedMs = ms
            book.acked += 1
            if book.delivered.contains(book.sends[index].id) { book.ackedAndDelivered += 1 }
        }
    }

    /// Records a delivery as the device received it.
    func received(_ delivery: Delivery) {
        book.update { book in
            book.deliveries.append(delivery)
            guard let index = book.sendIndex[delivery.clientMessageID] else { return }
            let send = book.sends[index]
            guard send.recipient == delivery.device else { return }
            book.receivingDevices.insert(delivery.device)
            if book.delivered.insert(send.id).inserted, send.ackedMs != nil { book.ackedAndDelivered += 1 }
        }
    }

    /// A copy of everything recorded.
    var snapshot: Book { book.value }
}
