import Testing

@testable import MeridianCluster

/// The local token bucket as a pure state machine, driven by a manual clock: no sleeping.
@Suite struct TokenBucketTests {
    typealias Bucket = TokenBucket<ManualClock>

    @Test func aFullBurstThenRefusalWithTheWaitForOneToken() {
        let clock = ManualClock()
        var bucket = Bucket(RateLimitQuota(rate: 10, per: .seconds(1)), now: clock.now)
        for expected in (0..<10).reversed() {
            let decision = bucket.take(at: clock.now)
            #expect(decision.allowed && decision.remaining == expected)
            #expect(decision.retryAfter == nil)
        }
        let refused = bucket.take(at: clock.now)
        #expect(
            refused
                == RateLimitDecision(
                    allowed: false, limit: 10, remaining: 0, retryAfter: .milliseconds(100), reset: .seconds(1),
                    nextRefill: .milliseconds(100)))
        #expect(!refused.exceedsLimit)
    }

    @Test func afterTheBurstExactlyRatePerPeriod() {
        var clock = ManualClock()
        var bucket = Bucket(RateLimitQuota(rate: 10, per: .seconds(1)), now: clock.now)
        for _ in 0..<10 { _ = bucket.take(at: clock.now) }
        var allowed = 0
        for _ in 0..<10_000 {  // every millisecond for 10 s, always asking
            clock.advance(by: .milliseconds(1))
            if bucket.take(at: clock.now).allowed { allowed += 1 }
        }
        #expect(allowed == 100)
    }

    @Test func noDriftWhenThePeriodDoesNotDivideByTheRate() {
        // 3 per second: a token every 333 333 333.33… ns. Brought up to date 3000 times at steps of 333 333 333 ns,
        // a drained bucket of 3000 has refilled exactly 3 × elapsed: the thirds of a nanosecond are kept, not
        // rounded away step after step, and it is full at exactly 1000 s, not a nanosecond earlier.
        var clock = ManualClock()
        var bucket = Bucket(RateLimitQuota(rate: 3, per: .seconds(1), burst: 3000), now: clock.now)
        #expect(bucket.take(3000, at: clock.now).allowed)
        for _ in 0..<3000 {
            clock.advance(by: .nanoseconds(333_333_333))
            _ = bucket.take(0, at: clock.now)
        }
        #expect(bucket.tokens(at: clock.now) == 2999, "999.999999 s × 3 = 2999.999997")
        clock.advance(by: .nanoseconds(999))
        #expect(!bucket.isFull(at: clock.now))
        clock.advance(by: .nanoseconds(1))
        #expect(bucket.isFull(at: clock.now) && bucket.tokens(at: clock.now) == 3000)
    }

    @Test func waitingEachRetryAfterAdmitsAtTheRate() {
        // Burst 1: each wait is the interval rounded up to the nanosecond, and the bucket is full when it ends
        // (a full bucket cannot bank the rounding): 3000 tokens in 1000 s plus at most 1 ns each.
        var clock = ManualClock()
        let start = clock.now
        var bucket = Bucket(RateLimitQuota(rate: 3, per: .seconds(1), burst: 1), now: clock.now)
        #expect(bucket.take(at: clock.now).allowed)
        for _ in 0..<3000 {
            let refused = bucket.take(at: clock.now)
            #expect(!refused.allowed)
            clock.advance(by: refused.retryAfter! - .nanoseconds(1))
            #expect(!bucket.take(at: clock.now).allowed, "not a nanosecond early")
            clock.advance(by: .nanoseconds(1))
            #expect(bucket.take(at: clock.now).allowed)
        }
        let elapsed = start.duration(to: clock.now)
        #expect(elapsed >= .seconds(1000) && elapsed <= .seconds(1000) + .nanoseconds(3000))
    }

    @Test func remainingResetAndNextRefill() {
        var clock = ManualClock()
        var bucket = Bucket(RateLimitQuota(rate: 10, per: .seconds(1)), now: clock.now)
        let first = bucket.take(at: clock.now)
        #expect(first.remaining == 9 && first.reset == .milliseconds(100) && first.nextRefill == .milliseconds(100))
        let four = bucket.take(3, at: clock.now)
        #expect(four.remaining == 6 && four.reset == .milliseconds(400) && four.nextRefill == .milliseconds(100))
        clock.advance(by: .milliseconds(50))
        let peek = bucket.peek(0, at: clock.now)
        #expect(peek.allowed && peek.remaining == 6)
        #expect(peek.reset == .milliseconds(350) && peek.nextRefill == .milliseconds(50))
        clock.advance(by: .milliseconds(350))
        let full = bucket.peek(0, at: clock.now)
        #expect(full.remaining == 10 && full.reset == .zero && full.nextRefill == nil)
        #expect(bucket.isFull(at: clock.now))
    }

    @Test func aRefusalTakesNothingAndWaitsForAllTheTokensItAsks() {
        var clock = ManualClock()
        var bucket = Bucket(RateLimitQuota(rate: 1, per: .seconds(1), burst: 5), now: clock.now)
        #expect(bucket.take(4, at: clock.now).remaining == 1)
        let refused = bucket.take(3, at: clock.now)
        #expect(!refused.allowed && refused.remaining == 1 && refused.retryAfter == .seconds(2))
        #expect(refused.reset == .seconds(4), "the refusal took nothing")
        clock.advance(by: .seconds(2))
        #expect(bucket.peek(3, at: clock.now).allowed)
        let allowed = bucket.take(3, at: clock.now)
        #expect(allowed.allowed && allowed.remaining == 0 && allowed.reset == .seconds(5))
    }

    @Test func costAboveTheBurstIsRefusedForeverWithoutRetryAfter() {
        var clock = ManualClock()
        var bucket = Bucket(RateLimitQuota(rate: 5, per: .seconds(1)), now: clock.now)
        let refused = bucket.take(6, at: clock.now)
        #expect(!refused.allowed && refused.exceedsLimit && refused.retryAfter == nil)
        #expect(refused.remaining == 5 && refused.reset == .zero, "nothing was taken")
        clock.advance(by: .seconds(86_400 * 365))
        #expect(bucket.take(6, at: clock.now).exceedsLimit, "no wait helps")
        #expect(bucket.take(5, at: clock.now).allowed, "the whole burst is fine")
    }

    @Test func timeGoingBackwardsCountsAsNoTime() {
        var clock = ManualClock()
        var bucket = Bucket(RateLimitQuota(rate: 10, per: .seconds(1)), now: clock.now)
        #expect(bucket.take(10, at: clock.now).allowed)
        clock.rewind(by: .seconds(10))
        let refused = bucket.take(at: clock.now)
        #expect(!refused.allowed && refused.retryAfter == .milliseconds(100), "no refill, and no extra debt")
        clock.advance(by: .seconds(10))  // back where it was: the 10 s are not counted twice
        #expect(!bucket.take(at: clock.now).allowed)
        clock.advance(by: .milliseconds(100))
        #expect(bucket.take(at: clock.now).allowed)
        #expect(!bucket.take(at: clock.now).allowed)
    }

    @Test func oneTokenPerHour() {
        var clock = ManualClock()
        var bucket = Bucket(RateLimitQuota(rate: 1, per: .seconds(3600)), now: clock.now)
        let first = bucket.take(at: clock.now)
        #expect(first.allowed && first.remaining == 0 && first.reset == .seconds(3600))
        #expect(bucket.take(at: clock.now).retryAfter == .seconds(3600))
        clock.advance(by: .seconds(3599))
        #expect(bucket.take(at: clock.now).retryAfter == .seconds(1))
        clock.advance(by: .seconds(1))
        #expect(bucket.take(at: clock.now).allowed)
    }

    @Test func burstOfOneSpacesRequestsByTheInterval() {
        var clock = ManualClock()
        var bucket = Bucket(RateLimitQuota(rate: 100, per: .seconds(60), burst: 1), now: clock.now)
        #expect(bucket.take(at: clock.now).allowed)
        let refused = bucket.take(at: clock.now)
        #expect(refused.retryAfter == .milliseconds(600) && refused.nextRefill == .milliseconds(600))
        clock.advance(by: .milliseconds(599))
        #expect(!bucket.take(at: clock.now).allowed)
        clock.advance(by: .milliseconds(1))
        #expect(bucket.take(at: clock.now).allowed)
    }

    @Test func hugeIdleGapsFillTheBucketWithoutOverflow() {
        var clock = ManualClock()
        var bucket = Bucket(RateLimitQuota(rate: 1_000_000, per: .seconds(1), burst: 1_000_000), now: clock.now)
        #expect(bucket.take(1_000_000, at: clock.now).allowed)
        clock.advance(by: .seconds(Int64.max / 4))  // far past what Int64 nanoseconds can hold
        let decision = bucket.take(at: clock.now)
        #expect(decision.allowed && decision.remaining == 999_999)
        #expect(bucket.take(999_999, at: clock.now).allowed)
    }

    @Test func aBucketThatTakesACenturyToFill() {
        var clock = ManualClock()
        let century = Duration.seconds(100 * 365 * 86_400)
        var bucket = Bucket(RateLimitQuota(rate: 1, per: century, burst: 2), now: clock.now)
        #expect(bucket.take(2, at: clock.now).reset == century * 2)
        clock.advance(by: century)
        #expect(bucket.tokens(at: clock.now) == 1)
        #expect(!bucket.isFull(at: clock.now))
        clock.advance(by: century)
        #expect(bucket.isFull(at: clock.now))
    }

    @Test func fullAtIsWhenTheDebtIsPaid() {
        var clock = ManualClock()
        var bucket = Bucket(RateLimitQuota(rate: 4, per: .seconds(1)), now: clock.now)
        let start = clock.now
        _ = bucket.take(3, at: clock.now)
        #expect(bucket.fullAt == start.advanced(by: .milliseconds(750)))
        clock.advance(by: .milliseconds(749))
        #expect(!bucket.isFull(at: clock.now))
        clock.advance(by: .milliseconds(1))
        #expect(bucket.isFull(at: clock.now))
        clock.rewind(by: .seconds(5))
        #expect(!bucket.isFull(at: clock.now), "an earlier instant than the last update sees the debt unpaid")
    }
}
