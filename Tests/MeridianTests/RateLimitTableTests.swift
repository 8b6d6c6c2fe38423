import Testing

@testable import MeridianCluster

/// One route's buckets, keyed by client, in bounded memory.
@Suite struct RateLimitTableTests {
    typealias Table = RateLimitTable<ManualClock>

    @Test func eachKeyHasItsOwnBucket() {
        let clock = ManualClock()
        var table = Table(RateLimitQuota(rate: 2, per: .seconds(1)))
        #expect(table.take(key: "a", at: clock.now).remaining == 1)
        #expect(table.take(key: "a", at: clock.now).remaining == 0)
        #expect(!table.take(key: "a", at: clock.now).allowed)
        #expect(table.take(key: "b", at: clock.now).remaining == 1)
        #expect(table.peek(key: "a", at: clock.now).allowed == false)
        #expect(table.peek(key: "new", at: clock.now).remaining == 1, "peek of a new key: a full bucket, less one")
        #expect(table.count == 2, "peek adds nothing")
    }

    @Test func randomKeysNeverGrowItPastTheBound() {
        let clock = ManualClock()
        var table = Table(RateLimitQuota(rate: 10, per: .seconds(60)), maxKeys: 1000)
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<100_000 {
            let key = String(generator.next(), radix: 36)
            #expect(table.take(key: key, at: clock.now).allowed)
        }
        #expect(table.count == 1000)
        #expect(table.allocatedSlots == 1000)
        #expect(table.evictedCount == 99_000, "nothing was full again: every extra key cost an eviction")
    }

    @Test func aKeyInUseSurvivesAFloodOfNewKeys() {
        var clock = ManualClock()
        var table = Table(RateLimitQuota(rate: 5, per: .seconds(60)), maxKeys: 100)
        var legitimate = 0
        for i in 0..<20_000 {
            _ = table.take(key: "flood-\(i)", at: clock.now)
            if i % 50 == 0, table.take(key: "client", at: clock.now).allowed { legitimate += 1 }
            clock.advance(by: .milliseconds(1))
        }
        // 20 s at 5 a minute: the burst of 5 and one more token (every 12 s), however many keys went by.
        #expect(legitimate == 6)
        #expect(table.count == 100)
    }

    @Test func fullBucketsGoFirstWithoutCountingAnEviction() {
        var clock = ManualClock()
        var table = Table(RateLimitQuota(rate: 1, per: .seconds(1)), maxKeys: 3)
        for key in ["a", "b", "c"] { _ = table.take(key: key, at: clock.now) }
        clock.advance(by: .seconds(1))  // all three are full again
        _ = table.take(key: "d", at: clock.now)
        #expect(table.count == 3 && table.evictedCount == 0)
    }

    @Test func aSweepFindsAFullBucketThatIsNotTheLeastRecentlyUsed() {
        var clock = ManualClock()
        var table = Table(RateLimitQuota(rate: 1, per: .seconds(1), burst: 2), maxKeys: 2)
        _ = table.take(2, key: "drained", at: clock.now)  // full again after 2 s
        clock.advance(by: .milliseconds(500))
        _ = table.take(key: "light", at: clock.now)  // full again after 1.5 s
        clock.advance(by: .milliseconds(1100))
        _ = table.take(key: "new", at: clock.now)
        #expect(table.evictedCount == 0)
        #expect(table.count == 2)
        #expect(table.peek(key: "drained", at: clock.now).remaining == 0, "the drained key kept its state")
    }

    @Test func theLeastRecentlyUsedGoesWhenNothingIsFull() {
        let clock = ManualClock()
        var table = Table(RateLimitQuota(rate: 1, per: .seconds(60)), maxKeys: 2)
        _ = table.take(key: "a", at: clock.now)
        _ = table.take(key: "b", at: clock.now)
        _ = table.peek(key: "a", at: clock.now)  // peeking is not using
        _ = table.take(key: "b", at: clock.now)
        _ = table.take(key: "c", at: clock.now)
        #expect(table.evictedCount == 1)
        #expect(table.peek(key: "a", at: clock.now).allowed, "a was evicted: it starts again from a full bucket")
        #expect(!table.peek(key: "b", at: clock.now).allowed)
    }

    @Test func requestsThatLeaveTheBucketFullAddNoKey() {
        let clock = ManualClock()
        var table = Table(RateLimitQuota(rate: 3, per: .seconds(1)))
        #expect(table.take(0, key: "peek", at: clock.now).allowed)
        #expect(table.take(4, key: "too-big", at: clock.now).exceedsLimit)
        #expect(table.count == 0)
    }

    @Test func sweepDropsOnlyFullBuckets() {
        var clock = ManualClock()
        var table = Table(RateLimitQuota(rate: 1, per: .seconds(1), burst: 5))
        _ = table.take(1, key: "one", at: clock.now)
        _ = table.take(5, key: "five", at: clock.now)
        clock.advance(by: .seconds(1))
        #expect(table.sweep(at: clock.now) == 1)
        #expect(table.count == 1 && table.peek(0, key: "five", at: clock.now).remaining == 1)
        clock.advance(by: .seconds(4))
        #expect(table.sweep(at: clock.now) == 1 && table.count == 0)
    }
}
