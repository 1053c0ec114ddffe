/// The outcome of one `relay-bench wire` run: bytes on the wire per 1:1
/// message, for each way of speaking MQTT.
struct WireResult: ChatBenchResult, Sendable, Codable {
    /// One variant's averages per message, in bytes.
    struct Row: Sendable, Codable, Hashable {
        var variant: String
        /// Lengths of the ids that travel in topics and envelopes.
        var conversationLength: Int
        var deviceLength: Int
        /// The sender's PUBLISH on `s/<conversation>`, and its `Send` payload.
        var sendPacketBytes: Double
        var sendPayloadBytes: Double
        /// The recipient's PUBLISH on `d/<device>/m`, and its `Delivery` payload.
        var deliveryPacketBytes: Double
        var deliveryPayloadBytes: Double
        /// The two statuses (sequenced, delivered) to the sender, together.
        var statusPacketBytes: Double
        /// Everything on each socket, each way.
        var senderUpBytes: Double
        var senderDownBytes: Double
        var recipientUpBytes: Double
        var recipientDownBytes: Double
        var ciphertextBytes: Int

        /// Device → relay beyond the ciphertext: the send's PUBLISH.
        var sendOverhead: Double { sendPacketBytes - Double(ciphertextBytes) }
        /// Relay → recipient and back beyond the ciphertext: the delivery's
        /// PUBLISH and the recipient's PUBACK (MQTT framing and the `Delivery`
        /// envelope's ids, seq and time).
        var deliveredOverhead: Double { recipientDownBytes + recipientUpBytes - Double(ciphertextBytes) }
        /// The MQTT part of it: fixed header, topic or alias, packet id,
        /// properties, and the PUBACK.
        var deliveredMQTTOverhead: Double { deliveryPacketBytes - deliveryPayloadBytes + recipientUpBytes }
        /// Both devices, both ways, per message.
        var totalBytes: Double { senderUpBytes + senderDownBytes + recipientUpBytes + recipientDownBytes }

        enum CodingKeys: String, CodingKey {
            case variant, conversationLength, deviceLength, sendPacketBytes, sendPayloadBytes, deliveryPacketBytes
            case deliveryPayloadBytes, statusPacketBytes, senderUpBytes, senderDownBytes, recipientUpBytes
            case recipientDownBytes, ciphertextBytes, sendOverhead, deliveredOverhead, deliveredMQTTOverhead, totalBytes
        }

        init(
            variant: String, conversationLength: Int, deviceLength: Int, sendPacketBytes: Double, sendPayloadBytes: Double,
            deliveryPacketBytes: Double, deliveryPayloadBytes: Double, statusPacketBytes: Double, senderUpBytes: Double,
            senderDownBytes: Double, recipientUpBytes: Double, recipientDownBytes: Double, ciphertextBytes: Int
        ) {
            self.variant = variant
            self.conversationLength = conversationLength
            self.deviceLength = deviceLength
            self.sendPacketBytes = sendPacketBytes
            self.sendPayloadBytes = sendPayloadBytes
            self.deliveryPacketBytes = deliveryPacketBytes
            self.deliveryPayloadBytes = deliveryPayloadBytes
            self.statusPacketBytes = statusPacketBytes
            self.senderUpBytes = senderUpBytes
            self.senderDownBytes = senderDownBytes
            self.recipientUpBytes = recipientUpBytes
            self.recipientDownBytes = recipientDownBytes
            self.ciphertextBytes = ciphertextBytes
        }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            self.init(
                variant: try c.decode(String.self, forKey: .variant),
                conversationLength: try c.decode(Int.self, forKey: .conversationLength),
                deviceLength: try c.decode(Int.self, forKey: .deviceLength),
                sendPacketBytes: try c.decode(Double.self, forKey: .sendPacketBytes),
                sendPayloadBytes: try c.decode(Double.self, forKey: .sendPayloadBytes),
                deliveryPacketBytes: try c.decode(Double.self, forKey: .deliveryPacketBytes),
                deliveryPayloadBytes: try c.decode(Double.self, forKey: .deliveryPayloadBytes),
                statusPacketBytes: try c.decode(Double.self, forKey: .statusPacketBytes),
                senderUpBytes: try c.decode(Double.self, forKey: .senderUpBytes),
                senderDownBytes: try c.decode(Double.self, forKey: .senderDownBytes),
                recipientUpBytes: try c.decode(Double.self, forKey: .recipientUpBytes),
                recipientDownBytes: try c.decode(Double.self, forKey: .recipientDownBytes),
                ciphertextBytes: try c.decode(Int.self, forKey: .ciphertextBytes)
            )
        }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(variant, forKey: .variant)
            try c.encode(conversationLength, forKey: .conversationLength)
            try c.encode(deviceLength, forKey: .deviceLength)
            try c.encode(sendPacketBytes, forKey: .sendPacketBytes)
            try c.encode(sendPayloadBytes, forKey: .sendPayloadBytes)
            try c.encode(deliveryPacketBytes, forKey: .deliveryPacketBytes)
            try c.encode(deliveryPayloadBytes, forKey: .deliveryPayloadBytes)
            try c.encode(statusPacketBytes, forKey: .statusPacketBytes)
            try c.encode(senderUpBytes, forKey: .senderUpBytes)
            try c.encode(senderDownBytes, forKey: .senderDownBytes)
            try c.encode(recipientUpBytes, forKey: .recipientUpBytes)
            try c.encode(recipientDownBytes, forKey: .recipientDownBytes)
            try c.encode(ciphertextBytes, forKey: .ciphertextBytes)
            try c.encode(sendOverhead, forKey: .sendOverhead)
            try c.encode(deliveredOverhead, forKey: .deliveredOverhead)
            try c.encode(deliveredMQTTOverhead, forKey: .deliveredMQTTOverhead)
            try c.encode(totalBytes, forKey: .totalBytes)
        }
    }

    var scenario = "wire"
    var label: String?
    var runID: String
    var host: String
    var port: Int
    var messages: Int
    var ciphertextBytes: Int
    var rows: [Row]

    var failed: Bool { false }

    func table() -> String {
        let f = { (v: Double) in TextTable.format(v, 1) }
        let header = "relay-bench wire\(label.map { " [\($0)]" } ?? "") \(host):\(port) run \(runID) messages=\(messages)"
            + " ciphertext=\(ciphertextBytes)B (bytes per 1:1 message; conversation id \(rows.first?.conversationLength ?? 0),"
            + " device id \(rows.first?.deviceLength ?? 0) characters)"
        let table = TextTable.render(
            ["mqtt", "send_pkt", "delivery_pkt", "recipient_ack", "statuses", "send_overhead", "delivered_overhead",
             "delivered_mqtt_overhead", "sender_up", "sender_down", "recipient_up", "recipient_down", "total"],
            rows.map { r in
                [r.variant, f(r.sendPacketBytes), f(r.deliveryPacketBytes), f(r.recipientUpBytes), f(r.statusPacketBytes),
                 f(r.sendOverhead), f(r.deliveredOverhead), f(r.deliveredMQTTOverhead),
                 f(r.senderUpBytes), f(r.senderDownBytes), f(r.recipientUpBytes), f(r.recipientDownBytes), f(r.totalBytes)]
            }
        )
        return header + "\n" + table
    }
}
