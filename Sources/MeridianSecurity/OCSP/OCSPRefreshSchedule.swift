public import Foundation

/// When to fetch the next OCSP response, and whether the one in hand may still be stapled.
///
/// Pure arithmetic on the times passed in (no clock inside), so the stapling task can be tested
/// without waiting and every instance in a cluster computes the same schedule from the same inputs.
public struct OCSPRefreshSchedule: Sendable, Equatable {
    /// The earliest a refresh after a good response is scheduled, so a response whose validity
    /// window is (nearly) over does not turn into a tight fetch loop.
    public var minimumRefreshDelay: TimeInterval
    /// The refresh interval when a response has no nextUpdate (the responder always has newer data).
    public var refreshWithoutNextUpdate: TimeInterval
    /// The delay after the first consecutive failure; it doubles with each further failure.
    public var firstRetryDelay: TimeInterval
    /// The longest delay between retries, so an outage that ends is noticed within this time.
    public var maximumRetryDelay: TimeInterval
    /// How long before the staple in hand expires a retry must happen at the latest.
    public var expiryMargin: TimeInterval

    /// The defaults: refresh no sooner than a minute, hourly without nextUpdate, retries from one
    /// minute doubling to an hour, and a last retry a minute before the staple expires.
    public init(
        minimumRefreshDelay: TimeInterval = 60,
        refreshWithoutNextUpdate: TimeInterval = 3600,
        firstRetryDelay: TimeInterval = 60,
        maximumRetryDelay: TimeInterval = 3600,
        expiryMargin: TimeInterval = 60
    ) {
        self.minimumRefreshDelay = minimumRefreshDelay
        self.refreshWithoutNextUpdate = refreshWithoutNextUpdate
        self.firstRetryDelay = firstRetryDelay
        self.maximumRetryDelay = maximumRetryDelay
        self.expiryMargin = expiryMargin
    }

    /// After a verified response: halfway through its validity window (thisUpdate + (nextUpdate -
    /// thisUpdate) / 2, as Caddy does), which leaves the second half for retries should the responder
    /// be down; never sooner than `now + minimumRefreshDelay`. Without nextUpdate,
    /// `now + refreshWithoutNextUpdate`.
    public func nextRefresh(after response: OCSPStatus, now: Date) -> Date {
        guard let nextUpdate = response.nextUpdate else {
            return now.addingTimeInterval(self.refreshWithoutNextUpdate)
        }
        let halfway = response.thisUpdate.addingTimeInterval(nextUpdate.timeIntervalSince(response.thisUpdate) / 2)
        return max(halfway, now.addingTimeInterval(self.minimumRefreshDelay))
    }

    /// After the `consecutiveFailures`-th failed fetch or verification in a row (counted from 1):
    /// `now + min(firstRetryDelay * 2^(n-1), maximumRetryDelay)`, exponential so a struggling
    /// responder is not hammered; but no later than `expiryMargin` before the last good response's
    /// nextUpdate while that moment is still ahead, so one more try happens before the staple lapses.
    public func nextRetry(afterFailures consecutiveFailures: Int, lastGood: OCSPStatus?, now: Date) -> Date {
        // 2^62 s already exceeds any sensible maximum; the clamp keeps the shift in range.
        let exponent = min(max(consecutiveFailures, 1) - 1, 62)
        let backoff = min(self.firstRetryDelay * Double(UInt64(1) << UInt64(exponent)), self.maximumRetryDelay)
        let retry = now.addingTimeInterval(backoff)
        guard let nextUpdate = lastGood?.nextUpdate else { return retry }
        let lastChance = nextUpdate.addingTimeInterval(-self.expiryMargin)
        return lastChance > now ? min(retry, lastChance) : retry
    }

    /// Whether `lastGood` may be stapled at `now`: it is a `good` answer (nginx staples nothing else)
    /// and its nextUpdate, if any, has not passed. Clients reject an expired staple outright, whereas
    /// most treat a missing one as "go and check yourself", so past nextUpdate no staple is better.
    public func isStapleUsable(lastGood: OCSPStatus?, now: Date) -> Bool {
        guard let lastGood, lastGood.certStatus == .good else { return false }
        guard let nextUpdate = lastGood.nextUpdate else { return true }
        return now < nextUpdate
    }
}
