/// Computes a drill's figures from the ledger: it counts what the devices
/// received, it never assumes a message arrived.
struct DrillChecker: Sendable {
    /// Devices whose home is the drilled region.
    var regionDevices: Set<Int>
    /// The kill (or cut), ms since the drill started.
    var killMs: Double

    /// The figures of `book`.
    func figures(of book: DrillLedger.Book) -> Figures {
        var figures = Figures()
        var seen: Set<DeliveryKey> = []
        var last: [PositionKey: (epoch: UInt32, seq: UInt64)] = [:]
        for delivery in book.deliveries {
            if !seen.insert(DeliveryKey(device: delivery.device, id: delivery.clientMessageID)).inserted {
                figures.duplicates += 1
            }
            let key = PositionKey(device: delivery.device, conversation: delivery.conversation)
            if let previous = last[key], (delivery.epoch, delivery.seq) <= (previous.epoch, previous.seq) {
                figures.outOfOrder += 1
            }
            last[key] = (delivery.epoch, delivery.seq)
        }
        var firstArrival: [String: Double] = [:]
        for delivery in book.deliveries where firstArrival[delivery.clientMessageID] == nil {
            if let index = book.sendIndex[delivery.clientMessageID], book.sends[index].recipient == delivery.device {
                firstArrival[delivery.clientMessageID] = delivery.arrivalMs
            }
        }
        var oldestLostAck: Double?
        for send in book.sends {
            if send.firstPublishedMs != nil { figures.published += 1 }
            if send.lastRefusal != nil { figures.refused += 1 }
            let arrival = firstArrival[send.id]
            if arrival != nil { figures.delivered += 1 }
            guard let acked = send.ackedMs else {
                figures.unacknowledged += 1
                continue
            }
            figures.acked += 1
            if acked < killMs { figures.ackedBeforeKill += 1 }
            if arrival == nil {
                figures.lostAcknowledged += 1
                figures.lost.append(send)
                if acked < killMs {
                    figures.rpoMessages += 1
                    oldestLostAck = min(oldestLostAck ?? acked, acked)
                }
            }
            if regionDevices.contains(send.sender), send.composedMs >= killMs, let arrival {
                figures.rtoMs = min(figures.rtoMs ?? (arrival - killMs), arrival - killMs)
            }
        }
        figures.rpoMs = oldestLostAck.map { killMs - $0 } ?? 0
        figures.sent = book.sends.count
        figures.deliveries = book.deliveries.count
        return figures
    }

    /// The counted figures.
    struct Figures: Sendable, Hashable {
        var rtoMs: Double?
        var rpoMessages = 0
        var rpoMs: Double = 0
        var ackedBeforeKill = 0
        var lostAcknowledged = 0
        /// The acknowledged sends never delivered to their recipient, in composition order.
        var lost: [DrillLedger.Send] = []
        var duplicates = 0
        var outOfOrder = 0
        var sent = 0
        var published = 0
        var acked = 0
        var delivered = 0
        var deliveries = 0
        var unacknowledged = 0
        var refused = 0
    }

    private struct DeliveryKey: Hashable {
        var device: Int
        var id: String
    }

    private struct PositionKey: Hashable {
        var device: Int
        var conversation: String
    }
}
