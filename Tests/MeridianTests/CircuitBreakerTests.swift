import Testing

@testable import MeridianProxy

/// The circuit breaker as a pure state machine, driven by a manual clock: no upstream, no sleeping.
@Suite struct CircuitBreakerTests {
    typealias Breaker = CircuitBreaker<ManualClock>

    /// Records `count` outcomes of ordinary (non-probe) requests; the last transition, if any.
    @discardableResult
    static func record(
        _ outcome: Breaker.Outcome, _ count: Int, on breaker: inout Breaker, at now: ManualClock.Instant
    ) -> Breaker.Transition? {
        var last: Breaker.Transition?
        for _ in 0..<count {
            if let transition = breaker.record(outcome, probe: false, at: now) { last = transition }
        }
        return last
    }

    /// A breaker with the default configuration, opened at `clock.now` by 20 failures (first period 5 s).
    static func opened(_ clock: ManualClock, _ configuration: Breaker.Configuration = .init()) -> Breaker {
        var breaker = Breaker(configuration, now: clock.now)
        let transition = record(.failure, configuration.minimumRequests, on: &breaker, at: clock.now)
        precondition(transition?.to == .open)
        return breaker
    }

    @Test func opensAtTheRatioOnceTheMinimumIsReached() {
        let clock = ManualClock()
        var breaker = Breaker(now: clock.now)
        #expect(Self.record(.success, 10, on: &breaker, at: clock.now) == nil)
        #expect(Self.record(.failure, 9, on: &breaker, at: clock.now) == nil, "19 requests: under the minimum")
        #expect(breaker.state == .closed)
        let transition = breaker.record(.failure, probe: false, at: clock.now)
        #expect(
            transition
                == Breaker.Transition(
                    from: .closed, to: .open, reason: "failure ratio 0.50 over 20 requests", openFor: .seconds(5)))
        #expect(breaker.state == .open)
        #expect(breaker.admit(at: clock.now) == .rejected(retryAfter: .seconds(5)))
    }

    @Test func staysClosedBelowTheMinimumOrUnderTheRatio() {
        let clock = ManualClock()
        var few = Breaker(now: clock.now)
        #expect(Self.record(.failure, 19, on: &few, at: clock.now) == nil, "19 failures of 19 is not enough")
        #expect(few.admit(at: clock.now) == .allowed)

        var healthy = Breaker(now: clock.now)
        Self.record(.success, 11, on: &healthy, at: clock.now)
        #expect(Self.record(.failure, 9, on: &healthy, at: clock.now) == nil, "0.45 is under 0.5")
        #expect(healthy.state == .closed)
    }

    @Test func reasonGivesTheRatioWithTwoDecimals() {
        let clock = ManualClock()
        var breaker = Breaker(now: clock.now)
        Self.record(.success, 9, on: &breaker, at: clock.now)
        Self.record(.failure, 10, on: &breaker, at: clock.now)
        #expect(breaker.record(.failure, probe: false, at: clock.now)?.reason == "failure ratio 0.55 over 20 requests")
        #expect(Breaker.twoDecimals(15.0 / 24.0) == "0.63")
        #expect(Breaker.twoDecimals(1) == "1.00")
        #expect(Breaker.twoDecimals(0.05) == "0.05")
    }

    @Test func windowRollsOffOldFailures() {
        var clock = ManualClock()
        var breaker = Breaker(now: clock.now)
        Self.record(.failure, 15, on: &breaker, at: clock.now)
        #expect(breaker.windowCounts(at: clock.now) == (successes: 0, failures: 15))
        clock.advance(by: .milliseconds(9_999))
        #expect(breaker.windowCounts(at: clock.now) == (successes: 0, failures: 15), "still in the 10 s window")
        clock.advance(by: .milliseconds(1))
        #expect(breaker.windowCounts(at: clock.now) == (successes: 0, failures: 0), "their bucket rolled off")
        #expect(Self.record(.failure, 5, on: &breaker, at: clock.now) == nil, "5 in the window, not 20")
        #expect(breaker.state == .closed)
    }

    @Test func failuresAcrossBucketsInsideTheWindowAddUp() {
        var clock = ManualClock()
        var breaker = Breaker(now: clock.now)
        Self.record(.failure, 15, on: &breaker, at: clock.now)
        clock.advance(by: .seconds(9))
        #expect(Self.record(.failure, 4, on: &breaker, at: clock.now) == nil)
        #expect(breaker.record(.failure, probe: false, at: clock.now)?.to == .open)
    }

    @Test func retryAfterShrinksAsTimePasses() {
        var clock = ManualClock()
        var breaker = Self.opened(clock)
        clock.advance(by: .seconds(2))
        #expect(breaker.admit(at: clock.now) == .rejected(retryAfter: .seconds(3)))
        clock.advance(by: .milliseconds(2_500))
        #expect(breaker.admit(at: clock.now) == .rejected(retryAfter: .milliseconds(500)))
        #expect(breaker.state == .open)
    }

    @Test func halfOpenHandsOutAtMostMaxProbes() {
        var clock = ManualClock()
        var breaker = Self.opened(clock)
        clock.advance(by: .seconds(5))
        #expect(breaker.admit(at: clock.now) == .probe)
        #expect(breaker.state == .halfOpen)
        #expect(breaker.admit(at: clock.now) == .probe)
        #expect(breaker.admit(at: clock.now) == .probe)
        #expect(breaker.admit(at: clock.now) == .rejected(retryAfter: .seconds(1)), "three probes in flight")
        breaker.probeAbandoned()
        #expect(breaker.admit(at: clock.now) == .probe, "an abandoned probe frees its slot")
        #expect(breaker.admit(at: clock.now) == .rejected(retryAfter: .seconds(1)))
        #expect(breaker.record(.success, probe: true, at: clock.now) == nil, "1 of 3 successes")
        #expect(breaker.admit(at: clock.now) == .probe, "a finished probe frees its slot")
    }

    @Test func peekAnswersLikeAdmitWithoutChangingAnything() {
        var clock = ManualClock()
        var breaker = Breaker(now: clock.now)
        #expect(breaker.peek(at: clock.now) == .allowed && breaker.wouldAdmit(at: clock.now))
        breaker = Self.opened(clock)
        clock.advance(by: .seconds(1))
        #expect(breaker.peek(at: clock.now) == .rejected(retryAfter: .seconds(4)))
        #expect(!breaker.wouldAdmit(at: clock.now))
        clock.advance(by: .seconds(4))
        for _ in 0..<5 { #expect(breaker.peek(at: clock.now) == .probe) }
        #expect(breaker.state == .open, "peeking does not start half-open")
        for _ in 0..<3 { #expect(breaker.admit(at: clock.now) == .probe) }
        #expect(breaker.peek(at: clock.now) == .rejected(retryAfter: .seconds(1)))
        #expect(!breaker.wouldAdmit(at: clock.now))
    }

    @Test func probeFailureReopensWithADoubledPeriodUpToTheMax() {
        var clock = ManualClock()
        var breaker = Self.opened(clock)
        var period = Duration.seconds(5)
        for expected in [10, 20, 40, 60, 60].map(Duration.seconds) {
            clock.advance(by: period)
            #expect(breaker.admit(at: clock.now) == .probe)
            let transition = breaker.record(.failure, probe: true, at: clock.now)
            let reopened = Breaker.Transition(from: .halfOpen, to: .open, reason: "probe failed", openFor: expected)
            #expect(transition == reopened)
            #expect(breaker.admit(at: clock.now) == .rejected(retryAfter: expected))
            period = expected
        }
    }

    @Test func probeSuccessesClose() {
        var clock = ManualClock()
        var breaker = Self.opened(clock)
        clock.advance(by: .seconds(5))
        for _ in 0..<3 { #expect(breaker.admit(at: clock.now) == .probe) }
        #expect(breaker.record(.success, probe: true, at: clock.now) == nil)
        #expect(breaker.record(.success, probe: true, at: clock.now) == nil)
        let transition = breaker.record(.success, probe: true, at: clock.now)
        #expect(transition == Breaker.Transition(from: .halfOpen, to: .closed, reason: "3 probes succeeded"))
        #expect(breaker.state == .closed)
        #expect(breaker.admit(at: clock.now) == .allowed)
        #expect(breaker.windowCounts(at: clock.now) == (successes: 0, failures: 0), "closing starts a fresh count")
    }

    @Test func successesToCloseCanBeFewerThanProbes() {
        var clock = ManualClock()
        var breaker = Self.opened(clock, .init(maxProbes: 3, successesToClose: 1))
        clock.advance(by: .seconds(5))
        #expect(breaker.admit(at: clock.now) == .probe)
        #expect(breaker.record(.success, probe: true, at: clock.now)?.reason == "1 probes succeeded")
        #expect(breaker.state == .closed)
    }

    @Test func backoffContinuesAfterAShortClosedSpellAndResetsAfterALongOne() {
        var clock = ManualClock()
        var breaker = Self.opened(clock)  // 5 s
        clock.advance(by: .seconds(5))
        _ = breaker.admit(at: clock.now)
        #expect(breaker.record(.failure, probe: true, at: clock.now)?.openFor == .seconds(10))
        clock.advance(by: .seconds(10))
        for _ in 0..<3 { _ = breaker.admit(at: clock.now) }
        for _ in 0..<3 { _ = breaker.record(.success, probe: true, at: clock.now) }
        #expect(breaker.state == .closed)
        clock.advance(by: .seconds(59))
        #expect(Self.record(.failure, 20, on: &breaker, at: clock.now)?.openFor == .seconds(20), "flapping backs off")

        clock.advance(by: .seconds(20))
        for _ in 0..<3 { _ = breaker.admit(at: clock.now) }
        for _ in 0..<3 { _ = breaker.record(.success, probe: true, at: clock.now) }
        clock.advance(by: .seconds(60))
        #expect(Self.record(.failure, 20, on: &breaker, at: clock.now)?.openFor == .seconds(5), "60 s closed resets")
    }

    @Test func outcomesOfRequestsAdmittedBeforeOpeningChangeNothing() {
        var clock = ManualClock()
        var breaker = Self.opened(clock)
        #expect(breaker.record(.failure, probe: false, at: clock.now) == nil)
        #expect(breaker.admit(at: clock.now) == .rejected(retryAfter: .seconds(5)), "the open period is not extended")
        clock.advance(by: .seconds(5))
        #expect(breaker.admit(at: clock.now) == .probe)
        #expect(breaker.record(.failure, probe: false, at: clock.now) == nil, "not a probe: ignored in half-open")
        #expect(breaker.state == .halfOpen)
    }

    @Test func aProbeThatFinishesAfterTheBreakerClosedCountsAsAnOrdinaryOutcome() {
        var clock = ManualClock()
        var breaker = Self.opened(clock, .init(maxProbes: 2, successesToClose: 1))
        clock.advance(by: .seconds(5))
        _ = breaker.admit(at: clock.now)
        _ = breaker.admit(at: clock.now)
        #expect(breaker.record(.success, probe: true, at: clock.now)?.to == .closed)
        #expect(breaker.record(.failure, probe: true, at: clock.now) == nil)
        #expect(breaker.state == .closed)
        #expect(breaker.windowCounts(at: clock.now) == (successes: 0, failures: 1))
    }

    @Test func applyTakesOnAnotherInstancesDecision() {
        var clock = ManualClock()
        var breaker = Breaker(now: clock.now)
        breaker.apply(.init(from: .closed, to: .open, reason: "elsewhere", openFor: .seconds(7)), at: clock.now)
        #expect(breaker.state == .open)
        #expect(breaker.admit(at: clock.now) == .rejected(retryAfter: .seconds(7)))

        clock.advance(by: .seconds(1))
        breaker.apply(.init(from: .closed, to: .open, reason: "shorter", openFor: .seconds(2)), at: clock.now)
        #expect(breaker.admit(at: clock.now) == .rejected(retryAfter: .seconds(6)), "already open for longer")
        breaker.apply(.init(from: .closed, to: .halfOpen, reason: "probing elsewhere"), at: clock.now)
        #expect(breaker.state == .open, "half-open is local")

        clock.advance(by: .seconds(6))
        #expect(breaker.admit(at: clock.now) == .probe)
        #expect(breaker.record(.failure, probe: true, at: clock.now)?.openFor == .seconds(14), "grows from 7 s")

        breaker.apply(.init(from: .halfOpen, to: .closed, reason: "3 probes succeeded"), at: clock.now)
        #expect(breaker.state == .closed)
        #expect(breaker.admit(at: clock.now) == .allowed)
    }

    @Test func applyOpenWithoutAPeriodUsesTheOwnBackoff() {
        let clock = ManualClock()
        var breaker = Breaker(now: clock.now)
        breaker.apply(.init(from: .closed, to: .open, reason: "elsewhere"), at: clock.now)
        #expect(breaker.admit(at: clock.now) == .rejected(retryAfter: .seconds(5)))
    }

    @Test func evaluateOpensOnCountsSharedByOtherInstances() {
        let clock = ManualClock()
        var breaker = Breaker(now: clock.now)
        Self.record(.failure, 5, on: &breaker, at: clock.now)
        let local = breaker.windowCounts(at: clock.now)
        #expect(breaker.evaluate(successes: local.successes + 10, failures: local.failures + 3, at: clock.now) == nil)
        let transition = breaker.evaluate(successes: local.successes + 10, failures: local.failures + 10, at: clock.now)
        #expect(transition?.reason == "failure ratio 0.60 over 25 requests")
        #expect(breaker.state == .open)
        #expect(breaker.evaluate(successes: 0, failures: 100, at: clock.now) == nil, "only a closed breaker opens")
    }
}
