/// One rate limit: `rate` tokens every `period`, and at most `burst` saved up (the bucket's capacity).
///
/// A request costs tokens; a full bucket admits `burst` at once, then exactly `rate` per `period` from then on.
/// The same quota drives a local ``TokenBucket``, a ``RateLimitTable`` of them, and the Redis scripts of the global
/// limits (``RedisScripts/gcraScript``, ``RedisScripts/leaseScript``).
///
/// Arithmetic is in integers, with no floating point and no rounding of `period / rate`: time is counted in
/// nanoseconds and a token costs `period` "units" of `1/rate` ns each, so that 3 per second is exactly 3 per
/// second forever. That needs `burst × period` (in ns) to fit in an `Int64`, i.e. a full bucket to take less
/// than about 292 years to fill.
///
/// Values are checked with preconditions; the config layer calls ``problem(rate:period:burst:)`` first and
/// reports what it says with the file and line.
public struct RateLimitQuota: Sendable, Hashable {
    /// Tokens added every `period`.
    public let rate: Int
    /// The period `rate` is counted over.
    public let period: Duration
    /// The bucket's capacity: the largest burst, and the `limit` that decisions and headers advertise.
    public let burst: Int

    /// `period` in whole nanoseconds: what one token costs, in units of `1/rate` ns.
    let tokenUnits: Int64
    /// `burst × tokenUnits`: the debt of an empty bucket.
    let capacityUnits: Int64

    /// - Parameters:
    ///   - rate: tokens per `period`, at least 1.
    ///   - period: at least 1 ns.
    ///   - burst: the capacity, at least 1; `nil` means `rate` (all of a period's tokens at once).
    public init(rate: Int, per period: Duration, burst: Int? = nil) {
        let burst = burst ?? rate
        if let problem = Self.problem(rate: rate, period: period, burst: burst) {
            preconditionFailure(problem)
        }
        self.rate = rate
        self.period = period
        self.burst = burst
        self.tokenUnits = Self.nanoseconds(period)
        self.capacityUnits = Int64(burst) * tokenUnits
    }

    /// What is wrong with these values, in words for a config error, or `nil` when they make a quota.
    public static func problem(rate: Int, period: Duration, burst: Int) -> String? {
        guard rate >= 1 else { return "rate must be at least 1 token per period, not \(rate)" }
        guard burst >= 1 else { return "burst must be at least 1 token, not \(burst)" }
        let nanoseconds = Self.nanoseconds(period)
        guard nanoseconds >= 1 else { return "period must be at least 1 ns, not \(period)" }
        // capacity + rate must fit: TokenBucket rounds capacity / rate up by adding rate - 1.
        let capacity = Int64(burst).multipliedReportingOverflow(by: nanoseconds)
        guard !capacity.overflow, !capacity.partialValue.addingReportingOverflow(Int64(rate)).overflow else {
            return "burst × period is too long (\(burst) × \(period)): a bucket must fill in under 292 years"
        }
        return nil
    }

    /// The time one token takes to come back (`period / rate`), to the nanosecond below.
    public var emissionInterval: Duration {
        .nanoseconds(tokenUnits / Int64(rate))
    }

    /// The emission interval in whole microseconds for the Redis scripts, rounded up (and at least 1) so that
    /// the global limit never admits more than the quota.
    ///
    /// The scripts keep GCRA's theoretical arrival time in integer microseconds: an interval that is not a whole
    /// number of microseconds makes the global rate slightly lower than the local one, by less than one part in
    /// the interval (under 0.1% for 1000 per second or slower, 3% at 30 000 per second).
    public var emissionIntervalMicroseconds: Int64 {
        let perMicrosecond = Int64(rate) * 1000
        return max(1, (tokenUnits + perMicrosecond - 1) / perMicrosecond)
    }

    /// The time a drained bucket takes to fill (`burst × period / rate`), rounded up to the nanosecond.
    public var refillTime: Duration {
        .nanoseconds(Self.ceilDiv(capacityUnits, Int64(rate)))
    }

    /// A duration in whole nanoseconds, rounded down; 0 for negative durations, `Int64.max` past about 292 years.
    static func nanoseconds(_ duration: Duration) -> Int64 {
        guard duration > .zero else { return 0 }
        let (seconds, attoseconds) = duration.components
        guard seconds < Int64.max / 1_000_000_000 - 1 else { return .max }
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }

    /// `numerator / denominator` rounded up, for non-negative numerators that leave room for `denominator - 1`.
    static func ceilDiv(_ numerator: Int64, _ denominator: Int64) -> Int64 {
        (numerator + denominator - 1) / denominator
    }
}
