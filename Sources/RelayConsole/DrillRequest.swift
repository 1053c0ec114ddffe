import RelayDrill
import RelayTopology

/// A drill asked for from the console's form (`POST /api/drills`), checked:
/// the region is one of the deployment's, the numbers are in range. Pure.
package struct DrillRequest: Sendable, Codable, Equatable {
    /// Kill the region (failover) or cut its link (partition).
    package enum Kind: String, Sendable, Codable, CaseIterable {
        case failover, partition
    }

    package var kind: Kind
    package var region: String
    /// The mirror mode the region must have (checked against its settings), nil: whichever it has.
    package var mode: MirrorMode?
    /// No failover or failback command: the deployment must act by itself.
    package var automatic: Bool
    package var devices: Int
    /// Sends per second over all devices.
    package var rate: Double
    /// Seconds of traffic while the region is away.
    package var duration: Double

    /// Bounds on what the page may ask for.
    package enum Limits {
        static let devices = 2...200
        static let rate = 0.1...1000
        static let duration = 1.0...600
    }

    /// The form as the page sends it (JSON); every field optional, checked by `init(form:regions:)`.
    package struct Form: Sendable, Decodable {
        package var kind: String?
        package var region: String?
        package var mode: String?
        package var automatic: Bool?
        package var devices: Int?
        package var rate: Double?
        package var duration: Double?

        /// A form with these fields.
        package init(kind: String? = nil, region: String? = nil, mode: String? = nil, automatic: Bool? = nil,
                     devices: Int? = nil, rate: Double? = nil, duration: Double? = nil) {
            self.kind = kind
            self.region = region
            self.mode = mode
            self.automatic = automatic
            self.devices = devices
            self.rate = rate
            self.duration = duration
        }
    }

    /// Why a form was refused: a message for the operator.
    package struct Refusal: Error, Sendable, Equatable, CustomStringConvertible {
        package var description: String
    }

    /// The request `form` asks for in a deployment of `regions`; defaults as
    /// `relayctl drill failover` has them (6 devices, 20 msg/s, 10 s).
    package init(form: Form, regions: [String]) throws(Refusal) {
        let kindText = form.kind ?? Kind.failover.rawValue
        guard let kind = Kind(rawValue: kindText) else {
            throw Refusal(description: "kind must be failover or partition, not \(kindText.prefix(40))")
        }
        guard let region = form.region, regions.contains(region) else {
            throw Refusal(description: "region must be one of \(regions.joined(separator: ", "))")
        }
        var mode: MirrorMode?
        if let text = form.mode, !text.isEmpty {
            guard let parsed = MirrorMode(rawValue: text) else {
                throw Refusal(description: "mode must be async or sync (or empty: whichever the region has)")
            }
            mode = parsed
        }
        let devices = form.devices ?? 6
        guard Limits.devices.contains(devices) else {
            throw Refusal(description: "devices must be from \(Limits.devices.lowerBound) to \(Limits.devices.upperBound)")
        }
        let rate = form.rate ?? 20
        guard Limits.rate.contains(rate) else {
            throw Refusal(description: "rate must be from \(Limits.rate.lowerBound) to \(Limits.rate.upperBound) messages per second")
        }
        let duration = form.duration ?? 10
        guard Limits.duration.contains(duration) else {
            throw Refusal(description: "duration must be from \(Limits.duration.lowerBound) to \(Limits.duration.upperBound) seconds")
        }
        self.init(kind: kind, region: region, mode: mode, automatic: form.automatic ?? false,
                  devices: devices, rate: rate, duration: duration)
    }

    /// A request of these values, unchecked.
    package init(kind: Kind, region: String, mode: MirrorMode?, automatic: Bool, devices: Int, rate: Double, duration: Double) {
        self.kind = kind
        self.region = region
        self.mode = mode
        self.automatic = automatic
        self.devices = devices
        self.rate = rate
        self.duration = duration
    }

    /// One line for people: "failover of us-east (sync, automatic): 4 devices, 20 msg/s, 3 s".
    package var summary: String {
        var qualifiers: [String] = []
        if let mode { qualifiers.append(mode.rawValue) }
        if automatic { qualifiers.append("automatic") }
        let qualified = qualifiers.isEmpty ? "" : " (\(qualifiers.joined(separator: ", ")))"
        return "\(kind.rawValue) of \(region)\(qualified): \(devices) devices, \(DrillHTML.format(rate)) msg/s, \(DrillHTML.format(duration)) s"
    }
}
