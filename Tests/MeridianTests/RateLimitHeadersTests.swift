import Testing

@testable import MeridianCluster

/// draft-ietf-httpapi-ratelimit-headers fields and Retry-After.
@Suite struct RateLimitHeadersTests {
    @Test func policyField() {
        let policy = RateLimitHeaders.Policy(name: "api", quota: 100, window: .seconds(60))
        #expect(RateLimitHeaders.policyValue(policy) == #""api";q=100;w=60"#)
        let two = [
            RateLimitHeaders.Policy(name: "burst", quota: 100, window: .seconds(60)),
            RateLimitHeaders.Policy(name: "upload", quota: 65535, window: .seconds(10), unit: "content-bytes"),
            RateLimitHeaders.Policy(name: "open", quota: 5, window: nil),
        ]
        #expect(
            RateLimitHeaders.policyValue(two)
                == #""burst";q=100;w=60, "upload";q=65535;qu="content-bytes";w=10, "open";q=5"#)
    }

    @Test func policyOfAQuotaIsTheBurstOverTheTimeToRefillIt() {
        let perMinute = RateLimitHeaders.Policy(name: "m", quota: RateLimitQuota(rate: 100, per: .seconds(60)))
        #expect(RateLimitHeaders.policyValue(perMinute) == #""m";q=100;w=60"#)
        let bursty = RateLimitHeaders.Policy(name: "b", quota: RateLimitQuota(rate: 10, per: .seconds(1), burst: 20))
        #expect(RateLimitHeaders.policyValue(bursty) == #""b";q=20;w=2"#)
        let fast = RateLimitHeaders.Policy(name: "f", quota: RateLimitQuota(rate: 3, per: .seconds(1), burst: 1))
        #expect(RateLimitHeaders.policyValue(fast) == #""f";q=1;w=1"#, "w is never 0")
    }

    @Test func rateLimitField() {
        #expect(
            RateLimitHeaders.rateLimitValue(policy: "api", remaining: 42, reset: .milliseconds(16_200))
                == #""api";r=42;t=17"#)
        #expect(RateLimitHeaders.rateLimitValue(policy: "api", remaining: 100, reset: nil) == #""api";r=100"#)
        #expect(RateLimitHeaders.rateLimitValue(policy: "api", remaining: -3, reset: .zero) == #""api";r=0;t=0"#)
        #expect(
            RateLimitHeaders.rateLimitValue(policy: "x", remaining: Int.max, reset: nil) == #""x";r=999999999999999"#)
    }

    @Test func retryAfterIsWholeSecondsRoundedUpAndNeverZero() {
        #expect(RateLimitHeaders.retryAfterValue(.zero) == "1")
        #expect(RateLimitHeaders.retryAfterValue(.nanoseconds(1)) == "1")
        #expect(RateLimitHeaders.retryAfterValue(.seconds(2)) == "2")
        #expect(RateLimitHeaders.retryAfterValue(.seconds(2) + .nanoseconds(1)) == "3")
        #expect(RateLimitHeaders.retryAfterValue(.seconds(3600)) == "3600")
    }

    @Test func policyNamesAreValidStrings() {
        #expect(RateLimitHeaders.sfString(#"a"b\c"#) == #""a\"b\\c""#)
        #expect(RateLimitHeaders.sfString("tab\there\u{7F}é") == #""tab?here??""#)
        #expect(RateLimitHeaders.sfString("") == #""""#)
        #expect(RateLimitHeaders.isValidPolicyName("per-user 100/min"))
        #expect(!RateLimitHeaders.isValidPolicyName(""))
        #expect(!RateLimitHeaders.isValidPolicyName("naïve"))
        #expect(!RateLimitHeaders.isValidPolicyName("line\nbreak"))
        let quoted = RateLimitHeaders.Policy(name: #"say "hi""#, quota: 1, window: .seconds(1))
        #expect(RateLimitHeaders.policyValue(quoted) == #""say \"hi\"";q=1;w=1"#)
    }

    @Test func fieldsForADecision() {
        var clock = ManualClock()
        let quota = RateLimitQuota(rate: 2, per: .seconds(3))
        let policy = RateLimitHeaders.Policy(name: "api", quota: quota)
        var bucket = TokenBucket<ManualClock>(quota, now: clock.now)

        let allowed = RateLimitHeaders.fields(for: bucket.take(at: clock.now), policy: policy)
        #expect(allowed.map(\.name) == ["RateLimit-Policy", "RateLimit"])
        #expect(allowed.map(\.value) == [#""api";q=2;w=3"#, #""api";r=1;t=2"#])

        _ = bucket.take(at: clock.now)
        clock.advance(by: .milliseconds(700))
        let refused = RateLimitHeaders.fields(for: bucket.take(at: clock.now), policy: policy)
        #expect(refused.map(\.name) == ["RateLimit-Policy", "RateLimit", "Retry-After"])
        #expect(refused.map(\.value) == [#""api";q=2;w=3"#, #""api";r=0;t=1"#, "1"])

        let never = RateLimitHeaders.fields(for: bucket.take(3, at: clock.now), policy: policy)
        #expect(never.map(\.name) == ["RateLimit-Policy", "RateLimit"], "no Retry-After: waiting cannot help")
    }

    @Test func retryAfterIsNeverEarlierThanTheResetParameter() {
        // Draft §6: a Retry-After SHOULD NOT point earlier than `t`. Refusals of every cost at many instants.
        var clock = ManualClock()
        let quota = RateLimitQuota(rate: 7, per: .seconds(10), burst: 4)
        var bucket = TokenBucket<ManualClock>(quota, now: clock.now)
        for step in 0..<2000 {
            let decision = bucket.take(1 + step % 4, at: clock.now)
            if let retryAfter = decision.retryAfter, let nextRefill = decision.nextRefill {
                #expect(retryAfter >= nextRefill)
                #expect(
                    Int(RateLimitHeaders.retryAfterValue(retryAfter))!
                        >= RateLimitHeaders.seconds(roundingUp: nextRefill))
            }
            clock.advance(by: .milliseconds(37))
        }
    }
}

@Suite struct PreparedRateLimitHeadersTests {
    @Test func preparedFieldsEqualTheOnesMadeFromScratch() {
        let policy = RateLimitHeaders.Policy(name: "a \"b\"", quota: RateLimitQuota(rate: 10, per: .seconds(60), burst: 5))
        let prepared = RateLimitHeaders.Prepared(policy)
        let decisions = [
            RateLimitDecision(allowed: true, limit: 5, remaining: 4, retryAfter: nil, reset: .seconds(12), nextRefill: .milliseconds(5500)),
            RateLimitDecision(allowed: true, limit: 5, remaining: 5, retryAfter: nil, reset: .zero, nextRefill: nil),
            RateLimitDecision(allowed: false, limit: 5, remaining: 0, retryAfter: .milliseconds(2100), reset: .seconds(30), nextRefill: .milliseconds(2100)),
            RateLimitDecision(allowed: false, limit: 5, remaining: 0, retryAfter: nil, reset: .seconds(30), nextRefill: .seconds(6)),
        ]
        for d in decisions {
            let a = prepared.fields(for: d).map { "\($0.name): \($0.value)" }
            let b = RateLimitHeaders.fields(for: d, policy: policy).map { "\($0.name): \($0.value)" }
            #expect(a == b)
        }
    }
}
