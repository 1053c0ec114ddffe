import Testing
@testable import RelayMedia

@Suite struct MediaLimitsTests {
    var limits: MediaLimits {
        var l = MediaLimits()
        l.maximumBytes = 1000
        l.quotaBytes = 5000
        l.minimumFreeBytes = 100
        l.retentionSeconds = 50
        l.incompleteSeconds = 10
        return l
    }

    @Test func lengthsAboveTheMaximumOrZeroAreRefused() {
        #expect((try? limits.checkLength(1000)) != nil)
        #expect(throws: MediaRefusal.self) { try limits.checkLength(1001) }
        #expect(throws: MediaRefusal.self) { try limits.checkLength(0) }
    }

    @Test func theQuotaCountsWhatIsHeld() {
        #expect(limits.withinQuota(used: 4000, adding: 1000))
        #expect(!limits.withinQuota(used: 4000, adding: 1001))
        #expect(!limits.withinQuota(used: 6000, adding: 1))
        #expect(!limits.withinQuota(used: 0, adding: UInt64.max))
    }

    @Test func theDiskKeepsItsReserve() {
        #expect((try? limits.checkRoom(free: 1100, needed: 1000)) != nil)
        do {
            try limits.checkRoom(free: 1099, needed: 1000)
            Issue.record("no refusal")
        } catch {
            #expect(error.status == 507)
        }
        #expect(throws: MediaRefusal.self) { try limits.checkRoom(free: 50, needed: 1) }
    }

    @Test func incompleteUploadsExpireSooner() {
        #expect(!limits.isExpired(createdAt: 100, complete: true, now: 149))
        #expect(limits.isExpired(createdAt: 100, complete: true, now: 150))
        #expect(limits.isExpired(createdAt: 100, complete: false, now: 110))
        #expect(!limits.isExpired(createdAt: 100, complete: false, now: 109))
    }
}
