/// A token bucket for one key of a local limit: a full bucket admits ``RateLimitQuota/burst`` at once, then
/// exactly ``RateLimitQuota/rate`` per ``RateLimitQuota/period``.
///
/// This is GCRA (the generic cell rate algorithm of ATM's traffic contracts, ITU-T I.371) kept as the bucket's
/// debt, GCRA's "theoretical arrival time minus now": the time the bucket needs to be full again. The debt is an
/// integer in units of `1/rate` ns, so the refill is exact at any rate (no floating point, no rounded
/// `period / rate` whose error adds up token after token) and one `Int64` plus one instant is the whole state.
///
/// Pure: the caller passes the time it read from its clock. Time that goes backwards counts as no time at all (the
/// bucket neither refills nor empties), and an idle gap of any length just fills the bucket, without overflow.
public struct TokenBucket<C: Clock>: Sendable where C.Duration == Duration {
    public let quota: RateLimitQuota

    /// How far the bucket is from full, in units of `1/rate` ns: `period` units per missing token.
    private var debt: Int64 = 0
    /// The instant `debt` was last brought up to date. It never moves backwards, and it advances by whole
    /// nanoseconds while the bucket refills, so that the fraction of a nanosecond left over is not lost.
    private var updated: C.Instant

    /// A full bucket.
    public init(_ quota: RateLimitQuota, now: C.Instant) {
        self.quota = quota
        self.updated = now
    }

    /// Takes `n` tokens if the bucket has them, and says what is left; a refused request takes nothing.
    ///
    /// `n` may be 0 to read the state (that is ``peek(_:at:)`` without the copy). A cost above the burst is
    /// refused whatever the bucket holds, with no `retryAfter` (``RateLimitDecision/exceedsLimit``).
    public mutating func take(_ n: Int = 1, at now: C.Instant) -> RateLimitDecision {
        precondition(n >= 0, "a request cannot cost \(n) tokens")
        catchUp(to: now)
        guard n <= quota.burst else {
            return decision(allowed: false, retryAfter: nil)
        }
        let cost = Int64(n) * quota.tokenUnits  // n <= burst: no overflow
        let free = quota.capacityUnits - debt
        guard cost <= free else {
            let wait = RateLimitQuota.ceilDiv(cost - free, Int64(quota.rate))
            return decision(allowed: false, retryAfter: .nanoseconds(wait))
        }
        debt += cost
        return decision(allowed: true, retryAfter: nil)
    }

    /// What ``take(_:at:)`` would answer for `n` tokens at `now`, without taking them.
    public func peek(_ n: Int = 1, at now: C.Instant) -> RateLimitDecision {
        var copy = self
        return copy.take(n, at: now)
    }

    /// Whether the bucket is full at `now`: a full bucket holds no information and can be forgotten (a new one
    /// made later is the same).
    public func isFull(at now: C.Instant) -> Bool {
        debt == 0 || now >= fullAt
    }

    /// Whole tokens in the bucket at `now`.
    public func tokens(at now: C.Instant) -> Int {
        var copy = self
        copy.catchUp(to: now)
        return Int((quota.capacityUnits - copy.debt) / quota.tokenUnits)
    }

    /// The instant the bucket is full again if nothing more is taken.
    public var fullAt: C.Instant {
        updated.advanced(by: .nanoseconds(RateLimitQuota.ceilDiv(debt, Int64(quota.rate))))
    }

    // MARK: - Arithmetic

    /// Pays off the debt for the time since ``updated``: `rate` units per nanosecond.
    private mutating func catchUp(to now: C.Instant) {
        guard updated < now else { return }  // no time passed, or time went backwards: nothing refills
        guard debt > 0 else {
            updated = now
            return
        }
        let elapsed = RateLimitQuota.nanoseconds(updated.duration(to: now))  // saturates on huge gaps
        let untilFull = RateLimitQuota.ceilDiv(debt, Int64(quota.rate))
        if elapsed >= untilFull {
            debt = 0
            updated = now
        } else {
            debt -= elapsed * Int64(quota.rate)  // elapsed × rate < debt + rate: no overflow
            updated = updated.advanced(by: .nanoseconds(elapsed))
        }
    }

    private func decision(allowed: Bool, retryAfter: Duration?) -> RateLimitDecision {
        let rate = Int64(quota.rate)
        let free = quota.capacityUnits - debt
        let remaining = free / quota.tokenUnits
        var nextRefill: Duration?
        if remaining < Int64(quota.burst) {
            let missing = (remaining + 1) * quota.tokenUnits - free
            nextRefill = .nanoseconds(RateLimitQuota.ceilDiv(missing, rate))
        }
        return RateLimitDecision(
            allowed: allowed,
            limit: quota.burst,
            remaining: Int(remaining),
            retryAfter: retryAfter,
            reset: .nanoseconds(RateLimitQuota.ceilDiv(debt, rate)),
            nextRefill: nextRefill
        )
    }
}
