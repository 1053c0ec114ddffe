import RelayIdentity

/// Device tokens for a benchmark's devices, signed with the deployment key
/// of a key directory (`relayctl keys init --dir DIR`), as an operator's
/// `relayctl token issue` would.
struct DeviceTokens: Sendable {
    private let issuer: TokenIssuer
    private let home: String

    /// Loads the private key from `keyDirectory`; tokens name `home` as the
    /// devices' home region (the relay's region name).
    init(keyDirectory: String, home: String) throws {
        do {
            issuer = TokenIssuer(key: try DeploymentKey.load(fromDirectory: keyDirectory))
        } catch {
            throw BenchError(.invalidConfiguration, "cannot load the deployment key from \(keyDirectory): \(error)")
        }
        self.home = home
    }

    private init(issuer: TokenIssuer, home: String) {
        self.issuer = issuer
        self.home = home
    }

    /// Tokens from the same key that name `home` instead: for devices
    /// another region serves.
    func homed(in home: String) -> DeviceTokens {
        DeviceTokens(issuer: issuer, home: home)
    }

    /// Identities with tokens valid for a day, for each (user, device).
    func identities(_ devices: [(user: String, device: String)]) async throws -> [ChatDeviceIdentity] {
        var identities: [ChatDeviceIdentity] = []
        identities.reserveCapacity(devices.count)
        for (user, device) in devices {
            do {
                let token = try await issuer.issue(user: user, device: device, home: home, ttl: .seconds(86_400))
                identities.append(ChatDeviceIdentity(user: user, device: device, token: token))
            } catch {
                throw BenchError(.invalidConfiguration, "cannot issue a token for \(device): \(error)")
            }
        }
        return identities
    }
}
