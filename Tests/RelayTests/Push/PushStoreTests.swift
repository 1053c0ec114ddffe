import NIOCore
import NIOPosix
import RedisTestSupport
@testable import RelayChat
import RelayCore
import RelayPush
import RelayStore
import Testing

/// Push registrations, coalescing and the durable due set, against a real redis-server.
@Suite("Push store against a real redis-server")
struct PushStoreTests {
    static func webPush() -> Relay_V1_PushRegister {
        var register = Relay_V1_PushRegister()
        register.webPush.endpoint = "https://push.example.net/wpush/abc"
        register.webPush.p256Dh = .init(Base64URL.decode("BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4") ?? [])
        register.webPush.auth = .init(Base64URL.decode("BTBZMqHH6r4Tts7J_aSIgg") ?? [])
        return register
    }

    @Test func coalescesWithinAWindowAndStartsAfreshOnConnect() async throws {
        let server = try RedisServerProcess()
        let redis = RedisClient(configuration: server.configuration)
        defer { redis.close() }
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let store = PushStore(redis: redis)
        func trigger(_ urgency: PushUrgency, at now: Int64, homes: [String] = ["local"]) async throws -> PushStore.Trigger {
            try await store.trigger(device: "bob-phone", urgency: urgency, nowMilliseconds: now, windowMilliseconds: 30_000, servedHomes: homes, on: loop).get()
        }

        #expect(try await trigger(.high, at: 1000) == .unregistered)
        try await store.register(device: "bob-phone", user: "bob", home: "local", target: Self.webPush(), on: loop).get()
        #expect(try await trigger(.normal, at: 1000, homes: ["eu-west"]) == .notServedHere)
        #expect(try await trigger(.normal, at: 1000) == .scheduled)
        #expect(try await trigger(.high, at: 1100) == .merged)  // and raised to high

        // Taken once (leased), with its state; a second claim finds nothing due.
        #expect(try await store.claim(nowMilliseconds: 1200, limit: 10, on: loop).get() == ["bob-phone"])
        #expect(try await store.claim(nowMilliseconds: 1300, limit: 10, on: loop).get().isEmpty)
        let claimed = try await store.claimed(device: "bob-phone", allowPrivate: false, on: loop).get()
        #expect(claimed.urgency == .high && claimed.sinceMilliseconds == 1000 && claimed.attempts == 0 && !claimed.connected)
        #expect(claimed.registration?.target.provider == .webPush && claimed.registration?.home == "local")

        // Sent: further triggers within the window send nothing; after it, one again.
        try await store.sent(device: "bob-phone", nowMilliseconds: 2000, on: loop).get()
        #expect(try await trigger(.high, at: 2500) == .withinWindow)
        #expect(try await store.claim(nowMilliseconds: 40_000, limit: 10, on: loop).get().isEmpty)
        #expect(try await trigger(.high, at: 32_001) == .scheduled)

        // Connecting cancels the pending push and the window.
        try await store.connected(device: "bob-phone", on: loop).get()
        #expect(try await store.claim(nowMilliseconds: 40_000, limit: 10, on: loop).get().isEmpty)
        #expect(try await trigger(.normal, at: 32_100) == .scheduled)

        // A retry moves it ahead; a lease that ends makes it due again (a node that died).
        _ = try await store.claim(nowMilliseconds: 32_200, limit: 10, on: loop).get()
        try await store.retry(device: "bob-phone", attempts: 1, dueMilliseconds: 35_000, on: loop).get()
        #expect(try await store.claim(nowMilliseconds: 34_999, limit: 10, on: loop).get().isEmpty)
        #expect(try await store.claim(nowMilliseconds: 35_000, limit: 10, on: loop).get() == ["bob-phone"])
        #expect(try await store.claim(nowMilliseconds: 35_000 + PushStore.leaseMilliseconds, limit: 10, on: loop).get() == ["bob-phone"])
        #expect(try await store.claimed(device: "bob-phone", allowPrivate: false, on: loop).get().attempts == 1)

        // Unregistering removes everything.
        try await store.unregister(device: "bob-phone", on: loop).get()
        #expect(try await store.claim(nowMilliseconds: 100_000, limit: 10, on: loop).get().isEmpty)
        #expect(try await trigger(.high, at: 100_000) == .unregistered)
    }

    @Test func aMalformedRegistrationInRedisIsIgnored() async throws {
        let server = try RedisServerProcess()
        let redis = RedisClient(configuration: server.configuration)
        defer { redis.close() }
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let store = PushStore(redis: redis)
        _ = try await redis.send(RedisCommand("HSET", PushStore.registrationKey("d1"), "user", "u", "home", "local", "kind", "webpush",
                                              "endpoint", "https://127.0.0.1/x", "p256dh", "AAAA", "auth", "!!"))
        #expect(try await store.registration(device: "d1", allowPrivate: false, on: loop).get() == nil)
        _ = try await redis.send(RedisCommand("HSET", PushStore.registrationKey("d2"), "user", "u", "home", "local", "kind", "carrier-pigeon"))
        #expect(try await store.registration(device: "d2", allowPrivate: true, on: loop).get() == nil)
    }

    @Test func registrationRequestsAreValidated() {
        let all = Set(PushProvider.allCases)
        #expect(throws: ChatError.self) { try ChatRouter.validatePushTarget(Relay_V1_PushRegister(), allowPrivate: false, available: all) }
        #expect(throws: ChatError.self) { try ChatRouter.validatePushTarget(Self.webPush(), allowPrivate: false, available: [.apns, .fcm]) }
        var local = Self.webPush()
        local.webPush.endpoint = "http://127.0.0.1:8090/push/x"
        #expect(throws: ChatError.self) { try ChatRouter.validatePushTarget(local, allowPrivate: false, available: all) }
        #expect(throws: Never.self) { try ChatRouter.validatePushTarget(local, allowPrivate: true, available: all) }
        #expect(throws: Never.self) { try ChatRouter.validatePushTarget(Self.webPush(), allowPrivate: false, available: all) }
    }

    @Test func apnsAndFCMRegistrationsNeedTheProviderConfigured() throws {
        var apns = Relay_V1_PushRegister()
        apns.apns.token = "ab01"
        apns.apns.topic = "com.example.chat"
        var fcm = Relay_V1_PushRegister()
        fcm.fcm.token = "fcm-token"
        #expect(throws: Never.self) { try ChatRouter.validatePushTarget(apns, allowPrivate: false, available: [.apns]) }
        #expect(throws: Never.self) { try ChatRouter.validatePushTarget(fcm, allowPrivate: false, available: [.fcm]) }
        do {
            try ChatRouter.validatePushTarget(apns, allowPrivate: false, available: [.webPush, .fcm])
            Issue.record("an APNs registration was accepted without APNs configured")
        } catch {
            #expect(error.code == .unavailable)
        }
        #expect(throws: ChatError.self) { try ChatRouter.validatePushTarget(fcm, allowPrivate: false, available: [.webPush, .apns]) }
        apns.apns.token = "not hex"
        #expect(throws: ChatError.self) { try ChatRouter.validatePushTarget(apns, allowPrivate: false, available: all()) }
    }

    private func all() -> Set<PushProvider> { Set(PushProvider.allCases) }

    @Test func onlyEventsAndOthersStatusesWake() {
        var status = Relay_V1_Status()
        status.kind = .sequenced
        #expect(PushWorthiness.urgency(of: [QueueEntry.status(ChatRouter.bytes(status)).bytes]) == nil)
        status.kind = .delivered
        #expect(PushWorthiness.urgency(of: [QueueEntry.status(ChatRouter.bytes(status)).bytes]) == .normal)
        #expect(PushWorthiness.urgency(of: [QueueEntry.event([]).bytes]) == .normal)
        #expect(PushWorthiness.urgency(of: [[0xFF, 0x00]]) == nil)
    }
}
