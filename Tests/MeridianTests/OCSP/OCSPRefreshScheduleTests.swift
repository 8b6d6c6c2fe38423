import Foundation
import MeridianSecurity
import Testing

/// Pure arithmetic, so every case is a row: times are offsets in seconds from a fixed `t0`.
@Suite("OCSP refresh schedule")
struct OCSPRefreshScheduleTests {
    static let t0 = Date(timeIntervalSince1970: 1_800_000_000)
    static let schedule = OCSPRefreshSchedule()

    static func at(_ seconds: TimeInterval) -> Date { t0.addingTimeInterval(seconds) }

    static func response(
        _ status: OCSPStatus.CertStatus = .good,
        thisUpdate: TimeInterval,
        nextUpdate: TimeInterval?
    ) -> OCSPStatus {
        OCSPStatus(
            certStatus: status,
            thisUpdate: at(thisUpdate),
            nextUpdate: nextUpdate.map(at),
            producedAt: at(thisUpdate)
        )
    }

    struct RefreshCase: Sendable, CustomTestStringConvertible {
        var name: String
        var thisUpdate: TimeInterval
        var nextUpdate: TimeInterval?
        var now: TimeInterval
        var expected: TimeInterval
        var testDescription: String { name }
    }

    @Test(arguments: [
        // Let's Encrypt-like 7-day window fetched right away: refresh at 3.5 days.
        RefreshCase(name: "7-day window", thisUpdate: 0, nextUpdate: 7 * 86_400, now: 60, expected: 3.5 * 86_400),
        // thisUpdate a little in the past (responders pre-date): still the midpoint of the window.
        RefreshCase(name: "pre-dated", thisUpdate: -3600, nextUpdate: 86_400 - 3600, now: 0, expected: 43_200 - 3600),
        // A response fetched late in its window: the midpoint is past, so one minute from now.
        RefreshCase(name: "midpoint past", thisUpdate: 0, nextUpdate: 600, now: 500, expected: 560),
        // A 10-minute window: midpoint at 5 minutes, later than now + 1 min.
        RefreshCase(name: "10-minute window", thisUpdate: 0, nextUpdate: 600, now: 10, expected: 300),
        // A 1-minute window fetched at once: midpoint at 30 s would be sooner than the 1-minute floor.
        RefreshCase(name: "tiny window", thisUpdate: 0, nextUpdate: 60, now: 0, expected: 60),
        // No nextUpdate: an hour from now, whatever thisUpdate says.
        RefreshCase(name: "no nextUpdate", thisUpdate: -86_400, nextUpdate: nil, now: 100, expected: 3700),
    ])
    func refreshAfterAResponse(_ row: RefreshCase) {
        let schedule = OCSPRefreshScheduleTests.schedule
        let response = OCSPRefreshScheduleTests.response(thisUpdate: row.thisUpdate, nextUpdate: row.nextUpdate)
        #expect(
            schedule.nextRefresh(after: response, now: OCSPRefreshScheduleTests.at(row.now))
                == OCSPRefreshScheduleTests.at(row.expected)
        )
    }

    struct RetryCase: Sendable, CustomTestStringConvertible {
        var failures: Int
        var lastGoodNextUpdate: TimeInterval??
        var now: TimeInterval
        var expected: TimeInterval
        var testDescription: String {
            "failure \(failures), nextUpdate \(String(describing: lastGoodNextUpdate)), now \(now)"
        }
    }

    @Test(arguments: [
        // No staple in hand: 1, 2, 4, ... minutes, capped at an hour.
        RetryCase(failures: 1, lastGoodNextUpdate: .none, now: 0, expected: 60),
        RetryCase(failures: 2, lastGoodNextUpdate: .none, now: 0, expected: 120),
        RetryCase(failures: 3, lastGoodNextUpdate: .none, now: 0, expected: 240),
        RetryCase(failures: 6, lastGoodNextUpdate: .none, now: 0, expected: 1920),
        RetryCase(failures: 7, lastGoodNextUpdate: .none, now: 0, expected: 3600),
        RetryCase(failures: 100, lastGoodNextUpdate: .none, now: 0, expected: 3600),
        RetryCase(failures: Int.max, lastGoodNextUpdate: .none, now: 0, expected: 3600),
        // n < 1 is treated as the first failure.
        RetryCase(failures: 0, lastGoodNextUpdate: .none, now: 0, expected: 60),
        // A last good response without nextUpdate sets no deadline.
        RetryCase(failures: 10, lastGoodNextUpdate: .some(nil), now: 0, expected: 3600),
        // The staple expires in a day: the backoff is well before the deadline, unchanged.
        RetryCase(failures: 10, lastGoodNextUpdate: 86_400, now: 0, expected: 3600),
        // It expires in 30 minutes: retry no later than 29 minutes from now.
        RetryCase(failures: 10, lastGoodNextUpdate: 1800, now: 0, expected: 1740),
        // A short backoff that already lands before the deadline is kept.
        RetryCase(failures: 1, lastGoodNextUpdate: 1800, now: 0, expected: 60),
        // Deadline (nextUpdate - 1 min) already passed: plain backoff.
        RetryCase(failures: 3, lastGoodNextUpdate: 30, now: 0, expected: 240),
        RetryCase(failures: 3, lastGoodNextUpdate: 60, now: 0, expected: 240),
        // Deadline one second ahead: retry then.
        RetryCase(failures: 3, lastGoodNextUpdate: 61, now: 0, expected: 1),
        // Staple long expired: plain backoff.
        RetryCase(failures: 2, lastGoodNextUpdate: -86_400, now: 0, expected: 120),
    ])
    func retryAfterFailures(_ row: RetryCase) {
        let lastGood = row.lastGoodNextUpdate.map {
            OCSPRefreshScheduleTests.response(thisUpdate: -86_400 * 2, nextUpdate: $0)
        }
        #expect(
            OCSPRefreshScheduleTests.schedule.nextRetry(
                afterFailures: row.failures,
                lastGood: lastGood,
                now: OCSPRefreshScheduleTests.at(row.now)
            ) == OCSPRefreshScheduleTests.at(row.expected)
        )
    }

    @Test(
        arguments: [
            // (certStatus, nextUpdate, now, usable)
            (OCSPStatus.CertStatus.good, 600.0 as TimeInterval?, 0.0, true),
            (.good, 600, 599.999, true),
            (.good, 600, 600, false),
            (.good, 600, 86_400, false),
            (.good, nil, 10 * 86_400, true),
            (.revoked(at: OCSPRefreshScheduleTests.t0, reason: 1), 600, 0, false),
            (.unknown, 600, 0, false),
        ] as [(OCSPStatus.CertStatus, TimeInterval?, TimeInterval, Bool)])
    func stapleUsability(status: OCSPStatus.CertStatus, nextUpdate: TimeInterval?, now: TimeInterval, usable: Bool) {
        let response = OCSPRefreshScheduleTests.response(status, thisUpdate: 0, nextUpdate: nextUpdate)
        #expect(
            OCSPRefreshScheduleTests.schedule.isStapleUsable(lastGood: response, now: OCSPRefreshScheduleTests.at(now))
                == usable
        )
    }

    @Test func noResponseIsNotUsable() {
        #expect(!OCSPRefreshScheduleTests.schedule.isStapleUsable(lastGood: nil, now: OCSPRefreshScheduleTests.t0))
    }

    @Test func customSettingsAreUsed() {
        let schedule = OCSPRefreshSchedule(
            minimumRefreshDelay: 5,
            refreshWithoutNextUpdate: 10,
            firstRetryDelay: 2,
            maximumRetryDelay: 20,
            expiryMargin: 3
        )
        let t0 = OCSPRefreshScheduleTests.t0
        let open = OCSPRefreshScheduleTests.response(thisUpdate: 0, nextUpdate: nil)
        #expect(schedule.nextRefresh(after: open, now: t0) == t0.addingTimeInterval(10))
        let short = OCSPRefreshScheduleTests.response(thisUpdate: 0, nextUpdate: 4)
        #expect(schedule.nextRefresh(after: short, now: t0) == t0.addingTimeInterval(5))
        #expect(schedule.nextRetry(afterFailures: 4, lastGood: nil, now: t0) == t0.addingTimeInterval(16))
        #expect(schedule.nextRetry(afterFailures: 5, lastGood: nil, now: t0) == t0.addingTimeInterval(20))
        let expiring = OCSPRefreshScheduleTests.response(thisUpdate: 0, nextUpdate: 10)
        #expect(schedule.nextRetry(afterFailures: 5, lastGood: expiring, now: t0) == t0.addingTimeInterval(7))
    }
}
