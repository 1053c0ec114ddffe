import Foundation
import RelayPush

/// A region's push settings (`regions/<name>.json`, keys `push*`).
package struct PushSettings: Sendable {
    /// At most one push per device per window while it stays offline, in ms.
    package var windowMilliseconds: Int64 = 30_000
    /// Endpoints on loopback or private addresses, and plain http, are
    /// accepted (tests and local deployments only: elsewhere the relay would
    /// forward requests into its own network).
    package var allowPrivateEndpoints = false
    /// VAPID's `sub`: a contact for push services (RFC 8292 §2.1).
    package var subject = "mailto:push@relay.invalid"
    /// Requests in flight to one provider at most.
    var concurrencyPerProvider = 32
    /// How often due pushes are looked for, in ms (a local trigger looks at once).
    var pollMilliseconds: Int64 = 250
    /// Retries.
    var backoff = PushBackoff()
    /// Failures in a row that open an origin's circuit, and for how long.
    var breakerThreshold = 5
    var breakerCooldownMilliseconds: Int64 = 30_000
    /// APNs, when the region has a key for it.
    package var apns: APNs?
    /// FCM, when the region has a service account for it.
    package var fcm: FCM?
    /// A PEM file of certificates trusted beside the system's for provider
    /// TLS (a local stand-in's; `pushCAFile`).
    package var extraCAFile: String?

    /// The defaults above.
    package init() {}

    /// APNs: the team's key and where to send (`pushAPNs*`).
    package struct APNs: Sendable {
        var credentials: APNsCredentials
        var productionURL: URL
        var sandboxURL: URL

        package init(credentials: APNsCredentials, productionURL: URL, sandboxURL: URL) {
            self.credentials = credentials
            self.productionURL = productionURL
            self.sandboxURL = sandboxURL
        }
    }

    /// FCM: the service account and where to send (`pushFCM*`).
    package struct FCM: Sendable {
        var account: FCMServiceAccount
        var baseURL: URL

        package init(account: FCMServiceAccount, baseURL: URL) {
            self.account = account
            self.baseURL = baseURL
        }
    }
}
