import Dispatch
import MeridianSecurity
import MeridianConfig
import Testing

/// The cache of successful checks, driven by an injected `ContinuousClock.Instant` (no sleeping).
@Suite struct CredentialCacheTests {
    let t0 = ContinuousClock.now
    let stored = "$2b$04$QNH8U1pyMmk3nWkcdhwOleUYTieRcXpoOuZSns7BZP4/ZHgCpKD3W"

    func pw(_ s: String) -> [UInt8] { Array(s.utf8) }

    @Test func remembersASuccessUntilItsTimeToLive() {
        let cache = CredentialCache(capacity: 10, timeToLive: .seconds(60))
        #expect(!cache.containsSuccess(user: "alice", password: pw("secret"), storedHash: stored, now: t0))
        cache.recordSuccess(user: "alice", password: pw("secret"), storedHash: stored, now: t0)
        #expect(cache.containsSuccess(user: "alice", password: pw("secret"), storedHash: stored, now: t0))
        #expect(
            cache.containsSuccess(user: "alice", password: pw("secret"), storedHash: stored, now: t0 + .seconds(59)))
        #expect(
            !cache.containsSuccess(user: "alice", password: pw("secret"), storedHash: stored, now: t0 + .seconds(60)))
        #expect(cache.count == 0, "an expired entry is dropped when found")
    }

    @Test func aHitDoesNotExtendTheTimeToLive() {
        let cache = CredentialCache(capacity: 10, timeToLive: .seconds(60))
        cache.recordSuccess(user: "alice", password: pw("secret"), storedHash: stored, now: t0)
        #expect(
            cache.containsSuccess(user: "alice", password: pw("secret"), storedHash: stored, now: t0 + .seconds(50)))
        cache.recordSuccess(user: "alice", password: pw("secret"), storedHash: stored, now: t0 + .seconds(50))
        #expect(
            !cache.containsSuccess(user: "alice", password: pw("secret"), storedHash: stored, now: t0 + .seconds(61)))
    }

    @Test func changedUserPasswordOrHashMisses() {
        let cache = CredentialCache(capacity: 10, timeToLive: .seconds(60))
        cache.recordSuccess(user: "alice", password: pw("secret"), storedHash: stored, now: t0)
        #expect(!cache.containsSuccess(user: "bob", password: pw("secret"), storedHash: stored, now: t0))
        #expect(!cache.containsSuccess(user: "alice", password: pw("secreT"), storedHash: stored, now: t0))
        #expect(!cache.containsSuccess(user: "alice", password: pw("secret"), storedHash: stored + "x", now: t0))
        // The separators keep fields apart: "alic" + "esecret" is not "alice" + "secret".
        #expect(!cache.containsSuccess(user: "alic", password: pw("esecret"), storedHash: stored, now: t0))
    }

    @Test func fieldsContainingNULAreNeverCached() {
        let cache = CredentialCache(capacity: 10, timeToLive: .seconds(60))
        cache.recordSuccess(user: "a\u{0}b", password: pw("c"), storedHash: stored, now: t0)
        cache.recordSuccess(user: "a", password: pw("b\u{0}c"), storedHash: stored, now: t0)
        #expect(cache.count == 0)
        #expect(!cache.containsSuccess(user: "a", password: pw("b\u{0}c"), storedHash: stored, now: t0))
    }

    @Test func evictsTheOldestWhenFull() {
        let cache = CredentialCache(capacity: 3, timeToLive: .seconds(60))
        for (i, user) in ["a", "b", "c", "d"].enumerated() {
            cache.recordSuccess(user: user, password: pw("pw"), storedHash: stored, now: t0 + .seconds(i))
        }
        #expect(cache.count == 3)
        #expect(!cache.containsSuccess(user: "a", password: pw("pw"), storedHash: stored, now: t0 + .seconds(5)))
        for user in ["b", "c", "d"] {
            #expect(cache.containsSuccess(user: user, password: pw("pw"), storedHash: stored, now: t0 + .seconds(5)))
        }
    }

    @Test func reRecordingAnExpiredEntryKeepsTheBound() {
        let cache = CredentialCache(capacity: 2, timeToLive: .seconds(10))
        cache.recordSuccess(user: "a", password: pw("pw"), storedHash: stored, now: t0)
        cache.recordSuccess(user: "a", password: pw("pw"), storedHash: stored, now: t0 + .seconds(20))
        cache.recordSuccess(user: "b", password: pw("pw"), storedHash: stored, now: t0 + .seconds(21))
        #expect(cache.count == 2)
        #expect(cache.containsSuccess(user: "a", password: pw("pw"), storedHash: stored, now: t0 + .seconds(22)))
        cache.recordSuccess(user: "c", password: pw("pw"), storedHash: stored, now: t0 + .seconds(23))
        #expect(cache.count == 2)
        #expect(!cache.containsSuccess(user: "a", password: pw("pw"), storedHash: stored, now: t0 + .seconds(23)))
        #expect(cache.containsSuccess(user: "b", password: pw("pw"), storedHash: stored, now: t0 + .seconds(23)))
        #expect(cache.containsSuccess(user: "c", password: pw("pw"), storedHash: stored, now: t0 + .seconds(23)))
    }

    @Test func expiredEntriesAreDroppedBeforeLiveOnes() {
        let cache = CredentialCache(capacity: 2, timeToLive: .seconds(10))
        cache.recordSuccess(user: "a", password: pw("pw"), storedHash: stored, now: t0)
        cache.recordSuccess(user: "b", password: pw("pw"), storedHash: stored, now: t0 + .seconds(1))
        cache.recordSuccess(user: "c", password: pw("pw"), storedHash: stored, now: t0 + .seconds(12))
        #expect(cache.count == 1, "a and b had expired; recording c swept them")
    }

    /// Only successes are remembered: a wrong guess pays the full hash cost every time.
    @Test func verifyCachesSuccessesOnly() throws {
        let fixture = try #require(ExternalHashFixtures.all.first { $0.hash.hasPrefix("$2b$04$") })
        let hash = try PasswordHash(parsing: fixture.hash)
        let cache = CredentialCache(capacity: 10, timeToLive: .seconds(60))
        for _ in 0..<3 {
            #expect(!cache.verify(user: "alice", password: pw(fixture.password + "?"), against: hash, now: t0))
        }
        #expect(cache.count == 0)
        #expect(cache.verify(user: "alice", password: pw(fixture.password), against: hash, now: t0))
        #expect(cache.count == 1)
        #expect(cache.containsSuccess(user: "alice", password: pw(fixture.password), storedHash: hash.encoded, now: t0))
        #expect(cache.verify(user: "alice", password: pw(fixture.password), against: hash, now: t0 + .seconds(1)))
        #expect(
            !cache.verify(user: "alice", password: pw(fixture.password + "?"), against: hash, now: t0 + .seconds(1)))
    }

    @Test func staysBoundedUnderConcurrentUse() {
        let cache = CredentialCache(capacity: 50, timeToLive: .seconds(60))
        let start = t0
        let hash = stored
        DispatchQueue.concurrentPerform(iterations: 8) { worker in
            for i in 0..<500 {
                let user = "user-\(worker)-\(i)"
                cache.recordSuccess(user: user, password: [UInt8](user.utf8), storedHash: hash, now: start)
                _ = cache.containsSuccess(user: user, password: [UInt8](user.utf8), storedHash: hash, now: start)
            }
        }
        #expect(cache.count == 50)
    }
}
