import Testing

@testable import MeridianProxy

/// Passive outlier detection as a pure state machine, driven by a manual clock.
@Suite struct OutlierDetectorTests {
    typealias Detector = OutlierDetector<ManualClock>

    /// Reports `count` results for `endpoint`; the ejection, if one happened.
    @discardableResult
    static func record(
        _ endpoint: Int, _ result: Detector.Result, _ count: Int, on detector: inout Detector,
        at now: ManualClock.Instant
    ) -> Detector.Ejection? {
        var ejection: Detector.Ejection?
        for _ in 0..<count {
            if let new = detector.record(endpoint, result, at: now) { ejection = new }
        }
        return ejection
    }

    static func at(_ seconds: Int64) -> ManualClock.Instant {
        ManualClock.Instant(offset: .seconds(seconds))
    }

    @Test func fiveConsecutive5xxEject() {
        let clock = ManualClock()
        var detector = Detector(endpointCount: 10)
        #expect(Self.record(2, .serverError, 4, on: &detector, at: clock.now) == nil)
        let ejection = detector.record(2, .serverError, at: clock.now)
        #expect(ejection == Detector.Ejection(endpoint: 2, until: Self.at(30), count: 1, reason: "5 consecutive 5xx"))
        #expect(detector.isEjected(2, at: clock.now))
        #expect(!detector.isEjected(1, at: clock.now))
        #expect(detector.ejectedCount(at: clock.now) == 1)
    }

    @Test func aSuccessInBetweenResetsTheStreak() {
        let clock = ManualClock()
        var detector = Detector(endpointCount: 10)
        Self.record(0, .serverError, 4, on: &detector, at: clock.now)
        #expect(detector.record(0, .success, at: clock.now) == nil)
        #expect(Self.record(0, .serverError, 4, on: &detector, at: clock.now) == nil)
        #expect(!detector.isEjected(0, at: clock.now))
        #expect(detector.record(0, .serverError, at: clock.now) != nil)
    }

    @Test func gatewayFailuresEjectAndCountAs5xxToo() {
        let clock = ManualClock()
        var detector = Detector(endpointCount: 10)
        #expect(
            Self.record(0, .gatewayFailure, 5, on: &detector, at: clock.now)?.reason
                == "5 consecutive gateway failures")

        var mixed = Detector(endpointCount: 10)
        Self.record(1, .gatewayFailure, 3, on: &mixed, at: clock.now)
        #expect(Self.record(1, .serverError, 2, on: &mixed, at: clock.now)?.reason == "5 consecutive 5xx")
    }

    @Test func a5xxEndsTheGatewayStreak() {
        let clock = ManualClock()
        var detector = Detector(endpointCount: 10, .init(consecutive5xx: 100))
        Self.record(0, .gatewayFailure, 4, on: &detector, at: clock.now)
        Self.record(0, .serverError, 1, on: &detector, at: clock.now)
        #expect(Self.record(0, .gatewayFailure, 4, on: &detector, at: clock.now) == nil)
        #expect(detector.record(0, .gatewayFailure, at: clock.now)?.reason == "5 consecutive gateway failures")
    }

    @Test func ejectionTimeGrowsWithTheCountAndIsCapped() {
        var clock = ManualClock()
        var detector = Detector(endpointCount: 2)
        for count in 1...12 {
            // Failing again the moment it returns: no time back in service, so nothing decays.
            let ejection = Self.record(0, .serverError, 5, on: &detector, at: clock.now)
            let expectedCount = min(count, 10)
            #expect(ejection?.count == expectedCount)
            #expect(ejection?.until == clock.now.advanced(by: .seconds(30) * expectedCount))
            clock.now = ejection!.until
        }
    }

    @Test func tenPercentOfTenEjectsOneAtATime() {
        var clock = ManualClock()
        var detector = Detector(endpointCount: 10)
        #expect(Self.record(0, .serverError, 5, on: &detector, at: clock.now) != nil)
        #expect(Self.record(1, .serverError, 5, on: &detector, at: clock.now) == nil, "a second would be 20%")
        #expect(!detector.isEjected(1, at: clock.now))
        clock.advance(by: .seconds(30))
        #expect(Self.record(1, .serverError, 4, on: &detector, at: clock.now) == nil, "the refused run was reset")
        #expect(detector.record(1, .serverError, at: clock.now)?.endpoint == 1, "room again once 0 is back")
    }

    @Test func oneOfTwoIsEjectedWhateverThePercent() {
        let clock = ManualClock()
        for percent in [0, 10, 50] {
            var detector = Detector(endpointCount: 2, .init(maxEjectionPercent: percent))
            #expect(Self.record(0, .serverError, 5, on: &detector, at: clock.now) != nil, "at least one: \(percent)%")
            #expect(Self.record(1, .serverError, 5, on: &detector, at: clock.now) == nil, "never both: \(percent)%")
        }
    }

    @Test func theOnlyEndpointIsNeverEjected() {
        let clock = ManualClock()
        var detector = Detector(endpointCount: 1, .init(maxEjectionPercent: 100))
        #expect(Self.record(0, .serverError, 50, on: &detector, at: clock.now) == nil)
        #expect(!detector.isEjected(0, at: clock.now))
    }

    @Test func tenPercentOfTwentyEjectsTwo() {
        let clock = ManualClock()
        var detector = Detector(endpointCount: 20)
        #expect(Self.record(0, .serverError, 5, on: &detector, at: clock.now) != nil)
        #expect(Self.record(1, .serverError, 5, on: &detector, at: clock.now) != nil)
        #expect(Self.record(2, .serverError, 5, on: &detector, at: clock.now) == nil)
        #expect(detector.ejectedCount(at: clock.now) == 2)
    }

    @Test func anEjectedEndpointReturnsWhenItsTimeIsOver() {
        var clock = ManualClock()
        var detector = Detector(endpointCount: 10)
        Self.record(3, .serverError, 5, on: &detector, at: clock.now)
        #expect(detector.nextReturn == Self.at(30))
        clock.advance(by: .milliseconds(29_999))
        #expect(detector.isEjected(3, at: clock.now))
        #expect(detector.tick(at: clock.now) == [])
        clock.advance(by: .milliseconds(1))
        #expect(!detector.isEjected(3, at: clock.now), "exact without a tick")
        clock.advance(by: .seconds(1))
        #expect(detector.tick(at: clock.now) == [3])
        #expect(detector.tick(at: clock.now) == [], "reported once")
        #expect(detector.nextReturn == nil)
    }

    @Test func resultsWhileEjectedAreIgnored() {
        var clock = ManualClock()
        var detector = Detector(endpointCount: 10)
        Self.record(0, .serverError, 5, on: &detector, at: clock.now)
        #expect(Self.record(0, .serverError, 10, on: &detector, at: clock.now) == nil)
        #expect(detector.nextReturn == Self.at(30), "late failures do not extend the ejection")
        clock.advance(by: .seconds(30))
        #expect(Self.record(0, .serverError, 4, on: &detector, at: clock.now) == nil, "a fresh streak after return")
    }

    @Test func theEjectionCountDecaysWhileBackInService() {
        var clock = ManualClock()
        var detector = Detector(endpointCount: 2)
        for _ in 0..<3 {
            clock.now = Self.record(0, .serverError, 5, on: &detector, at: clock.now)!.until
        }
        // Count 3, back at `clock.now`. Two whole 10 s intervals in service take 2 off: the next is count 2, 60 s.
        clock.advance(by: .seconds(29))
        var ejection = Self.record(0, .serverError, 5, on: &detector, at: clock.now)
        #expect(ejection?.count == 2)
        #expect(ejection?.until == clock.now.advanced(by: .seconds(60)))
        clock.now = ejection!.until
        clock.advance(by: .seconds(25))
        ejection = Self.record(0, .serverError, 5, on: &detector, at: clock.now)
        #expect(ejection?.count == 1, "decayed to 0, then this ejection")
        #expect(ejection?.until == clock.now.advanced(by: .seconds(30)))
    }

    @Test func resizeKeepsThePrefixAndForgetsTheRest() {
        let clock = ManualClock()
        var detector = Detector(endpointCount: 2)
        Self.record(1, .serverError, 5, on: &detector, at: clock.now)
        detector.resize(to: 20)
        #expect(detector.endpointCount == 20)
        #expect(detector.isEjected(1, at: clock.now))
        #expect(Self.record(19, .serverError, 5, on: &detector, at: clock.now)?.endpoint == 19, "2 of 20 is 10%")
        detector.resize(to: 1)
        #expect(!detector.isEjected(19, at: clock.now))
        #expect(detector.record(19, .serverError, at: clock.now) == nil, "an index the cluster no longer has")
        #expect(detector.ejectedCount(at: clock.now) == 0)
    }
}
