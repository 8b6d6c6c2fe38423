import Testing

@testable import MeridianCluster

@Suite struct RateLimitQuotaTests {
    @Test func burstDefaultsToTheRate() {
        let quota = RateLimitQuota(rate: 100, per: .seconds(60))
        #expect(quota.burst == 100)
        #expect(quota.refillTime == .seconds(60))
        #expect(quota.emissionInterval == .milliseconds(600))
    }

    @Test func problemsAreSaidInWords() {
        #expect(RateLimitQuota.problem(rate: 0, period: .seconds(1), burst: 1)?.contains("rate") == true)
        #expect(RateLimitQuota.problem(rate: 1, period: .seconds(1), burst: 0)?.contains("burst") == true)
        #expect(RateLimitQuota.problem(rate: 1, period: .zero, burst: 1)?.contains("period") == true)
        #expect(RateLimitQuota.problem(rate: 1, period: .nanoseconds(-5), burst: 1)?.contains("period") == true)
        #expect(
            RateLimitQuota.problem(rate: 1, period: .seconds(400 * 365 * 86_400), burst: 1)?.contains("292") == true)
        #expect(RateLimitQuota.problem(rate: 1, period: .seconds(3600), burst: 1_000_000_000)?.contains("292") == true)
        #expect(RateLimitQuota.problem(rate: 1, period: .seconds(3600), burst: 1_000_000) == nil)
    }

    @Test func redisIntervalIsWholeMicrosecondsRoundedUp() {
        #expect(RateLimitQuota(rate: 1000, per: .seconds(1)).emissionIntervalMicroseconds == 1000)
        #expect(RateLimitQuota(rate: 3, per: .seconds(1)).emissionIntervalMicroseconds == 333_334)
        #expect(RateLimitQuota(rate: 1, per: .seconds(3600)).emissionIntervalMicroseconds == 3_600_000_000)
        #expect(RateLimitQuota(rate: 10_000_000, per: .seconds(1)).emissionIntervalMicroseconds == 1, "at least 1")
    }

    @Test func refillTimeOfABurstLargerThanTheRate() {
        #expect(RateLimitQuota(rate: 10, per: .seconds(1), burst: 20).refillTime == .seconds(2))
        #expect(RateLimitQuota(rate: 3, per: .seconds(1), burst: 1).refillTime == .nanoseconds(333_333_334))
    }
}
