import Foundation
import NIOCore
import RelayCore

/// What the device pumps tell the router, acted on for the pump's device.
extension ChatRouter: DevicePumpDelegate {
    func pump(_ pump: DevicePump, delivered message: ChatStore.StoredMessage, seq: UInt64, in conversation: String) {
        delivered(conversation: conversation, message: message, seq: seq, to: pump.user, device: pump.device, on: pump.loop)
    }

    func pump(_ pump: DevicePump, overflowed conversation: String, skipped: UInt64) {
        let event = Relay_V1_Event.queueOverflow(dropped: skipped, cap: configuration.maximumQueuedPerDevice, conversation: conversation)
        deliverNow(event, topic: "d/\(pump.device)/e", to: pump.session)
    }

    /// Mirrored to the standby of the device's home: one turn's
    /// acknowledgements are one append to the mirror's outbox (in async
    /// mode after the gather window, which may cancel them).
    func pump(_ pump: DevicePump, stored changes: [DevicePump.StoredChange]) {
        guard let replicator, !changes.isEmpty else { return }
        let (device, user) = (pump.device, pump.user)
        let frames = changes.map { change in
            replicator.frame { f in
                switch change {
                case .cursor(let conversation, let seq):
                    var cursor = Relay_V1_CursorUpdate()
                    cursor.device = device
                    cursor.conversation = conversation
                    cursor.seq = seq
                    f.cursor = cursor
                case .entry(let entry):
                    var ack = Relay_V1_QueueAck()
                    ack.device = device
                    ack.user = user
                    ack.entry = Data(entry)
                    f.queueAck = ack
                }
            }
        }
        let (home, loop) = (pump.home, pump.loop)
        background.retry(.cursorMirror, on: loop, metadata: ["device": "\(device)"]) {
            replicator.mirrorQueues(frames, forHome: home, on: loop)
        }
    }
}
