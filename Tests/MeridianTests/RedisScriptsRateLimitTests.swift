import Testing

@testable import MeridianCluster

/// The scripts' arguments and replies on the Swift side; check-scripts.sh runs the scripts on a real redis-server.
@Suite struct RedisScriptsRateLimitTests {
    @Test func argumentsAreIntervalBurstAndCount() {
        let quota = RateLimitQuota(rate: 100, per: .seconds(60), burst: 20)
        #expect(RedisScripts.arguments(quota, 3) == ["600000", "20", "3"])
    }

    @Test func aGCRAReplyDecodesToTheDecisionTheLocalBucketMakes() {
        let clock = ManualClock()
        let quota = RateLimitQuota(rate: 10, per: .seconds(1), burst: 5)  // 100 ms: whole microseconds
        var bucket = TokenBucket<ManualClock>(quota, now: clock.now)

        let allowed = bucket.take(3, at: clock.now)
        #expect(RedisScripts.decision(gcraReply: [1, 2, 0, 300_000], quota: quota) == allowed)
        let refused = bucket.take(4, at: clock.now)
        #expect(RedisScripts.decision(gcraReply: [0, 2, 200_000, 300_000], quota: quota) == refused)
        let never = bucket.take(6, at: clock.now)
        #expect(RedisScripts.decision(gcraReply: [0, 2, -1, 300_000], quota: quota) == never)
        #expect(never.exceedsLimit)
    }

    @Test func aFullBucketHasNoNextRefill() {
        let quota = RateLimitQuota(rate: 10, per: .seconds(1), burst: 5)
        let decision = RedisScripts.decision(gcraReply: [1, 5, 0, 0], quota: quota)
        #expect(decision?.nextRefill == nil && decision?.reset == .zero)
    }

    @Test func malformedRepliesAreRejected() {
        let quota = RateLimitQuota(rate: 1, per: .seconds(1))
        #expect(RedisScripts.decision(gcraReply: [1, 2, 3], quota: quota) == nil)
        #expect(RedisScripts.decision(gcraReply: [2, 0, 0, 0], quota: quota) == nil)
        #expect(RedisScripts.LeaseReply([1, 2]) == nil)
        #expect(RedisScripts.LeaseReply([-1, 0, 0, 0]) == nil)
    }

    @Test func leaseReplies() {
        let partial = RedisScripts.LeaseReply([4, 0, 0, 2_000_000])
        #expect(partial?.granted == 4 && partial?.remaining == 0 && partial?.retryAfter == nil)
        #expect(partial?.reset == .seconds(2))
        let none = RedisScripts.LeaseReply([0, 0, 250_000, 2_000_000])
        #expect(none?.granted == 0 && none?.retryAfter == .milliseconds(250))
    }

    @Test func scriptsTouchOnlyTheirOneKeyAndUseServerTime() {
        for script in [RedisScripts.gcraScript, RedisScripts.leaseScript, RedisScripts.returnScript] {
            #expect(script.contains("KEYS[1]") && !script.contains("KEYS[2]"))
            #expect(script.contains("redis.call('TIME')"))
            #expect(!script.contains("\t") && !script.hasPrefix(" "))
        }
    }
}
