import Testing

@testable import MeridianProxy

/// Active health check thresholds, the check scheduling and the response judgement, all pure.
@Suite struct HealthCheckStateTests {
    @Test func healthyAtFirstThenUnhealthyAfterThreeFailuresInARow() {
        var health = HealthCheckState(endpointCount: 3)
        #expect(health.healthyCount == 3)
        #expect(health.record(1, passed: false) == nil)
        #expect(health.record(1, passed: false) == nil)
        #expect(health.isHealthy(1))
        #expect(health.record(1, passed: false) == HealthCheckState.Change(endpoint: 1, healthy: false))
        #expect(!health.isHealthy(1))
        #expect(health.healthyCount == 2)
        #expect(health.record(1, passed: false) == nil, "no change to report while it stays down")
    }

    @Test func aPassInBetweenResetsTheFailureRun() {
        var health = HealthCheckState(endpointCount: 1)
        _ = health.record(0, passed: false)
        _ = health.record(0, passed: false)
        #expect(health.record(0, passed: true) == nil)
        #expect(health.record(0, passed: false) == nil)
        #expect(health.record(0, passed: false) == nil)
        #expect(health.isHealthy(0))
    }

    @Test func backAfterTwoPassesInARow() {
        var health = HealthCheckState(endpointCount: 2)
        for _ in 0..<3 { _ = health.record(0, passed: false) }
        #expect(health.record(0, passed: true) == nil)
        #expect(health.record(0, passed: false) == nil, "a failure breaks the run of passes")
        #expect(health.record(0, passed: true) == nil)
        #expect(health.record(0, passed: true) == HealthCheckState.Change(endpoint: 0, healthy: true))
        #expect(health.healthyCount == 2)
    }

    @Test func startingUnhealthyOnePassIsEnoughAtFirst() {
        var health = HealthCheckState(endpointCount: 2, .init(initiallyHealthy: false))
        #expect(health.healthyCount == 0)
        #expect(!health.isHealthy(0))
        #expect(health.record(0, passed: true) == HealthCheckState.Change(endpoint: 0, healthy: true))
        #expect(health.record(1, passed: false) == nil, "already unhealthy")
        #expect(health.record(1, passed: true) == nil, "checked before: the threshold applies")
        #expect(health.record(1, passed: true) == HealthCheckState.Change(endpoint: 1, healthy: true))
        for _ in 0..<3 { _ = health.record(0, passed: false) }
        #expect(health.record(0, passed: true) == nil, "after startup, two passes again")
        #expect(health.record(0, passed: true) == HealthCheckState.Change(endpoint: 0, healthy: true))
    }

    @Test func resizeGivesNewEndpointsTheInitialState() {
        var health = HealthCheckState(endpointCount: 2, .init(initiallyHealthy: false))
        _ = health.record(0, passed: true)
        health.resize(to: 4)
        #expect(health.endpointCount == 4)
        #expect(health.isHealthy(0))
        #expect(!health.isHealthy(3))
        #expect(health.record(3, passed: true)?.healthy == true, "new and unchecked: one pass")
        health.resize(to: 1)
        #expect(health.healthyCount == 1)
        #expect(health.record(3, passed: false) == nil, "an index the cluster no longer has")
        #expect(!health.isHealthy(3))
    }

    @Test func nextDelayIsTheIntervalPlusAtMostTheJitter() {
        var top = HighestGenerator()
        #expect(HealthCheckState.nextDelay(interval: .seconds(5), jitter: .seconds(1), random: &top) == .seconds(6))
        var random = SeededGenerator(seed: 42)
        #expect(HealthCheckState.nextDelay(interval: .seconds(5), jitter: .zero, random: &random) == .seconds(5))
        var delays: Set<Duration> = []
        for _ in 0..<200 {
            let delay = HealthCheckState.nextDelay(interval: .seconds(5), jitter: .milliseconds(500), random: &random)
            #expect(delay >= .seconds(5) && delay <= .milliseconds(5_500))
            delays.insert(delay)
        }
        #expect(delays.count > 100, "spread out, not one value")
        #expect(delays.contains { $0 < .milliseconds(5_100) } && delays.contains { $0 > .milliseconds(5_400) })
    }

    @Test func theDefaultExpectationPasses2xxAnd3xx() {
        let expectation = HealthCheckState.Expectation()
        #expect(expectation.passes(status: 200))
        #expect(expectation.passes(status: 204))
        #expect(expectation.passes(status: 399))
        #expect(!expectation.passes(status: 199))
        #expect(!expectation.passes(status: 400))
        #expect(!expectation.passes(status: 503))
        let strict = HealthCheckState.Expectation(statuses: [200...200, 204...204])
        #expect(strict.passes(status: 204))
        #expect(!strict.passes(status: 301))
    }
}

/// Always the largest number, which draws the top of a range. (Always zero would loop forever: the standard
/// library's bounded draw rejects a low product below its threshold and draws again.)
private struct HighestGenerator: RandomNumberGenerator {
    mutating func next() -> UInt64 { .max }
}

/// A small seeded generator (Steele, Lea and Flood's SplitMix64), so the test is the same on every run.
private struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
