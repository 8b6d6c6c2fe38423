import Testing

@testable import MeridianProxy

/// The load-balancing policies as pure state: events in, picks out. Every random choice uses a
/// fixed seed, so the statistical bounds below are exact replays, not chances of flaking.
@Suite struct LoadBalancerTests {
    static let allPolicies: [BalancingPolicy] = [
        .roundRobin, .leastRequest, .p2cEWMA, .random, .ringHash(.clientIP), .maglev(.header("x-user")),
    ]

    func endpoints(_ count: Int, weights: [Int]? = nil) -> [BalancerEndpoint] {
        (0..<count).map { BalancerEndpoint(key: "10.0.0.\($0 + 1):8080", weight: weights?[$0] ?? 1) }
    }

    func keyHash(_ n: Int) -> UInt64 { StableHash.hash("client-\(n)") }

    /// How many of `picks` went to each of `count` endpoints.
    func tally(_ count: Int, _ picks: Int, _ pick: () -> Int?) -> [Int] {
        var counts = Array(repeating: 0, count: count)
        for _ in 0..<picks { counts[pick()!] += 1 }
        return counts
    }

    /// The endpoint key each of `keys` hashed keys lands on (keys, not indices, so tables built
    /// from different lists compare).
    func owners(_ balancer: any LoadBalancer, keys: Int, isEligible: (Int) -> Bool = { _ in true }) -> [String] {
        (0..<keys).map { balancer.endpoints[balancer.pick(hash: keyHash($0), isEligible: isEligible)!].key }
    }

    func ringOwners(_ list: [BalancerEndpoint]) -> [String] {
        owners(RingHashBalancer(ring: HashRing(endpoints: list), random: SplitMix64(seed: 0)), keys: 10_000)
    }

    func maglevOwners(_ list: [BalancerEndpoint]) -> [String] {
        owners(MaglevBalancer(table: MaglevTable(endpoints: list), random: SplitMix64(seed: 0)), keys: 10_000)
    }

    // MARK: Every policy

    @Test func everyPolicyNameIsBuiltAndPicks() {
        #expect(Self.allPolicies.map(\.name) == BalancingPolicy.names)
        for policy in Self.allPolicies {
            let balancer = LoadBalancers.make(policy, endpoints: endpoints(3), random: SplitMix64(seed: 1))
            #expect(balancer.endpoints.count == 3, "\(policy.name)")
            var seen = Set<Int>()
            for n in 0..<300 {
                let pick = balancer.pick(hash: keyHash(n), isEligible: { _ in true })
                #expect(pick.map { (0..<3).contains($0) } == true, "\(policy.name)")
                seen.insert(pick ?? -1)
                balancer.started(pick ?? 0)
                balancer.finished(pick ?? 0, latency: .milliseconds(5), now: .milliseconds(n))
            }
            #expect(seen == [0, 1, 2], "\(policy.name) reaches every endpoint")
        }
        #expect(BalancingPolicy.ringHash(.cookie("sid")).hashSource == .cookie("sid"))
        #expect(BalancingPolicy.random.hashSource == nil)
    }

    @Test func everyPolicyHandlesNoEndpointsOneEndpointAndNoneEligible() {
        for policy in Self.allPolicies {
            let empty = LoadBalancers.make(policy, endpoints: [], random: SplitMix64(seed: 2))
            #expect(empty.pick(hash: 42, isEligible: { _ in true }) == nil, "\(policy.name)")
            #expect(empty.pick(hash: nil, isEligible: { _ in true }) == nil, "\(policy.name)")
            empty.started(0)
            empty.finished(0, latency: nil, now: .zero)  // out of range: ignored, no trap

            let one = LoadBalancers.make(policy, endpoints: endpoints(1), random: SplitMix64(seed: 3))
            for n in 0..<20 {
                #expect(one.pick(hash: keyHash(n), isEligible: { _ in true }) == 0, "\(policy.name)")
            }
            #expect(one.pick(hash: 7, isEligible: { _ in false }) == nil, "\(policy.name)")

            let five = LoadBalancers.make(policy, endpoints: endpoints(5), random: SplitMix64(seed: 4))
            #expect(five.pick(hash: 7, isEligible: { _ in false }) == nil, "\(policy.name)")
            #expect(five.pick(hash: nil, isEligible: { _ in false }) == nil, "\(policy.name)")
        }
    }

    @Test func everyPolicySkipsIneligibleEndpoints() {
        for policy in Self.allPolicies {
            let balancer = LoadBalancers.make(policy, endpoints: endpoints(4), random: SplitMix64(seed: 5))
            for n in 0..<400 {
                let hash: UInt64? = n % 5 == 0 ? nil : keyHash(n)
                let pick = balancer.pick(hash: hash, isEligible: { $0 == 1 || $0 == 3 })
                #expect(pick == 1 || pick == 3, "\(policy.name)")
                #expect(balancer.pick(hash: hash, isEligible: { $0 == 2 }) == 2, "\(policy.name)")
            }
        }
    }

    @Test func aWeightOfZeroOrLessIsClampedToOne() {
        #expect(BalancerEndpoint(key: "a", weight: 0).weight == 1)
        #expect(BalancerEndpoint(key: "a", weight: -5).weight == 1)
        #expect(BalancerEndpoint(key: "a", weight: .max).weight == BalancerEndpoint.maxWeight)
        var zero = BalancerEndpoint(key: "b")
        zero.weight = 0  // set after init: the balancers clamp again
        let rr = RoundRobinBalancer(endpoints: [BalancerEndpoint(key: "a"), zero])
        #expect(tally(2, 100) { rr.pick(isEligible: { _ in true }) } == [50, 50])
    }

    // MARK: round_robin

    @Test func roundRobinFollowsNginxSmoothSequence() {
        let rr = RoundRobinBalancer(endpoints: endpoints(3, weights: [5, 1, 1]))
        let picks = (0..<14).map { _ in rr.pick(isEligible: { _ in true })! }
        #expect(picks == [0, 0, 1, 0, 2, 0, 0, 0, 0, 1, 0, 2, 0, 0])  // a a b a c a a, twice
    }

    @Test func roundRobinFromMakeStartsAtARandomPhaseOfTheSameCycle() {
        let cycle = [0, 0, 1, 0, 2, 0, 0]
        var firstPicks = Set<Int>()
        for seed in 0..<20 as Range<UInt64> {
            let weighted = endpoints(3, weights: [5, 1, 1])
            let rr = LoadBalancers.make(.roundRobin, endpoints: weighted, random: SplitMix64(seed: seed))
            let picks = (0..<7).map { _ in rr.pick(hash: nil, isEligible: { _ in true })! }
            #expect((0..<7).contains { cycle[$0...] + cycle[..<$0] == picks[...] }, "a rotation of the cycle")
            firstPicks.insert(picks[0])
        }
        #expect(firstPicks == [0, 1, 2], "balancers built together do not all start at endpoint 0")
    }

    @Test func roundRobinSharesAnIneligibleEndpointsTrafficByWeight() {
        let rr = RoundRobinBalancer(endpoints: endpoints(4, weights: [1, 1, 2, 1]))
        let counts = tally(4, 500) { rr.pick(isEligible: { $0 != 1 }) }
        #expect(counts == [125, 0, 250, 125])
        let again = tally(4, 500) { rr.pick(isEligible: { _ in true }) }
        #expect(again == [100, 100, 200, 100], "it comes back to its share at once")
    }

    // MARK: least_request

    @Test func leastRequestPicksTheFewestOutstanding() {
        let lr = LeastRequestBalancer(endpoints: endpoints(3))
        for (endpoint, count) in [(0, 3), (2, 1)] {
            for _ in 0..<count { lr.started(endpoint) }
        }
        #expect(lr.pick(isEligible: { _ in true }) == 1)
        #expect(lr.pick(isEligible: { $0 != 1 }) == 2)
        lr.finished(0, latency: nil, now: .zero)
        #expect(lr.outstandingRequests(0) == 2)
        for _ in 0..<5 { lr.finished(1, latency: nil, now: .zero) }  // unpaired: stays at 0
        #expect(lr.outstandingRequests(1) == 0)
    }

    @Test func leastRequestDividesOutstandingByWeight() {
        let lr = LeastRequestBalancer(endpoints: endpoints(2, weights: [2, 1]))
        lr.started(0)
        lr.started(1)
        #expect(lr.pick(isEligible: { _ in true }) == 0, "1/2 beats 1/1")
        lr.started(0)
        lr.started(0)
        #expect(lr.pick(isEligible: { _ in true }) == 1, "3/2 loses to 1/1")
    }

    @Test func leastRequestBreaksTiesByWeightedRoundRobin() {
        let lr = LeastRequestBalancer(endpoints: endpoints(3, weights: [5, 1, 1]))
        let picks = (0..<7).map { _ in
            let pick = lr.pick(isEligible: { _ in true })!
            lr.started(pick)
            lr.finished(pick, latency: nil, now: .zero)
            return pick
        }
        #expect(picks == [0, 0, 1, 0, 2, 0, 0])
        let even = LeastRequestBalancer(endpoints: endpoints(3))
        #expect(tally(3, 300) { even.pick(isEligible: { _ in true }) } == [100, 100, 100])
    }

    // MARK: p2c_ewma

    /// Runs `picks` requests with `concurrency` in flight, `step` apart; returns the picks per endpoint.
    func drive(
        _ lb: PeakEWMABalancer, picks: Int, step: Duration, concurrency: Int, now: inout Duration,
        latency: (Int) -> Duration?
    ) -> [Int] {
        var inFlight: [Int] = []
        var counts = Array(repeating: 0, count: lb.endpoints.count)
        for _ in 0..<picks {
            now += step
            let pick = lb.pick(isEligible: { _ in true })!
            counts[pick] += 1
            lb.started(pick)
            inFlight.append(pick)
            if inFlight.count > concurrency {
                let done = inFlight.removeFirst()
                lb.finished(done, latency: latency(done), now: now)
            }
        }
        for done in inFlight { lb.finished(done, latency: latency(done), now: now) }
        return counts
    }

    @Test func p2cAvoidsASlowEndpointAndReturnsOnceItRecovers() {
        let lb = PeakEWMABalancer(endpoints: endpoints(3), random: SplitMix64(seed: 11))
        var now = Duration.zero
        let slow = drive(lb, picks: 1000, step: .milliseconds(1), concurrency: 8, now: &now) {
            $0 == 0 ? .milliseconds(200) : .milliseconds(5)
        }
        #expect(slow[0] < 100, "\(slow)")
        // Endpoint 0 is fast again; its old estimate decays (tau 10 s) until it is tried again.
        let recovering = drive(lb, picks: 1000, step: .milliseconds(100), concurrency: 8, now: &now) { _ in
            .milliseconds(5)
        }
        let recovered = drive(lb, picks: 1000, step: .milliseconds(100), concurrency: 8, now: &now) { _ in
            .milliseconds(5)
        }
        #expect(recovering[0] > 100, "\(recovering)")
        #expect(recovered[0] > 250, "\(recovered)")
    }

    @Test func p2cSpreadsWhenNothingIsMeasured() {
        let lb = PeakEWMABalancer(endpoints: endpoints(3), random: SplitMix64(seed: 12))
        var now = Duration.zero
        let counts = drive(lb, picks: 3000, step: .milliseconds(1), concurrency: 0, now: &now) { _ in nil }
        #expect(counts.allSatisfy { (900...1100).contains($0) }, "\(counts)")
    }

    @Test func p2cScoresAnUnmeasuredEndpointOptimisticallyButProbesItOneAtATime() {
        let lb = PeakEWMABalancer(endpoints: endpoints(2), random: SplitMix64(seed: 13))
        lb.started(0)
        lb.finished(0, latency: .milliseconds(5), now: .seconds(1))
        #expect(lb.score(1) == 0, "unmeasured and idle: tried first")
        lb.started(1)
        #expect(lb.score(1) > 1e6, "unmeasured with a request in flight: wait for its answer")
        #expect((0..<20).allSatisfy { _ in lb.pick(isEligible: { _ in true }) == 0 })
    }

    @Test func peakEWMATakesPeaksAtOnceAndDecaysOverTheWindow() {
        #expect(abs(PeakEWMA.expNegative(1) - 0.367_879_441_171_442_33) < 1e-15)
        #expect(abs(PeakEWMA.expNegative(20.5) - 1.250_152_866_386_742_6e-9) < 1e-22)
        #expect(PeakEWMA.expNegative(0) == 1)
        #expect(PeakEWMA.expNegative(1000) == 0)
        var e = PeakEWMA()
        e.observe(0.010, at: 0, tau: 10)
        e.observe(0.100, at: 0, tau: 10)
        #expect(e.cost == 0.1, "a peak replaces the estimate")
        e.observe(0.010, at: 10, tau: 10)
        let weight = 0.367_879_441_171_442_33  // e^-1: one window later
        #expect(abs(e.cost - (0.1 * weight + 0.01 * (1 - weight))) < 1e-15, "a lower sample is averaged in")
        #expect(abs(e.cost(at: 20, tau: 10) - e.cost * weight) < 1e-15, "and the estimate decays between samples")
        #expect(PeakEWMA.seconds(.milliseconds(1500)) == 1.5)
    }

    // MARK: random

    @Test func randomSpreadsByWeight() {
        let weighted = endpoints(4, weights: [1, 2, 3, 4])
        let lb = LoadBalancers.make(.random, endpoints: weighted, random: SplitMix64(seed: 21))
        let counts = tally(4, 10_000) { lb.pick(hash: nil, isEligible: { _ in true }) }
        for (i, count) in counts.enumerated() {
            #expect(abs(count - (i + 1) * 1000) < 150, "\(counts)")
        }
        let skipping = tally(4, 10_000) { lb.pick(hash: nil, isEligible: { $0 != 3 }) }
        #expect(skipping[3] == 0)
        #expect(abs(skipping[2] - 5000) < 200 && abs(skipping[0] - 1667) < 150, "\(skipping)")
    }

    // MARK: ring_hash

    @Test func ringSpreadsByWeight() {
        let ring = HashRing(endpoints: endpoints(3, weights: [1, 2, 3]))
        #expect(ring.pointCount == 960, "160 points per unit of weight")
        let counts = (0..<3).map { i in (0..<10_000).filter { ring.endpoint(for: keyHash($0)) == i }.count }
        for (i, count) in counts.enumerated() {
            #expect(abs(Double(count) / 10_000 - Double(i + 1) / 6) < 0.03, "\(counts)")
        }
        let capped = HashRing(endpoints: endpoints(3, weights: [1, 2, 3]), maxPoints: 96)
        #expect(capped.pointCount == 96)
    }

    @Test func ringKeepsEveryOtherKeyWhenAnEndpointLeaves() {
        let all = endpoints(10)
        let before = ringOwners(all)
        var rest = all
        let removed = rest.remove(at: 3).key
        let after = ringOwners(rest)
        let kept = zip(before, after).filter { $0.0 != removed }
        #expect(kept.count > 800 && kept.count < 9_200)
        #expect(kept.allSatisfy { $0.0 == $0.1 })
    }

    @Test func ringMovesOnlyTheIneligibleEndpointsKeys() {
        let lb = LoadBalancers.make(.ringHash(.clientIP), endpoints: endpoints(10), random: SplitMix64(seed: 0))
        expectOnlyTheIneligibleEndpointsKeysMove(lb)
    }

    // MARK: maglev

    @Test func maglevSpreadsEvenly() {
        let table = MaglevTable(endpoints: endpoints(10))
        let counts = (0..<10).map { i in (0..<10_000).filter { table.endpoint(for: keyHash($0)) == i }.count }
        #expect(counts.allSatisfy { (800...1200).contains($0) }, "\(counts)")
        let slots = (0..<10).map { i in table.slots.filter { $0 == i }.count }
        #expect(slots.allSatisfy { abs($0 - 6554) <= 1 }, "each endpoint gets its share of slots: \(slots)")
        let weighted = MaglevTable(endpoints: endpoints(3, weights: [1, 2, 1]), size: 1009)
        #expect((0..<3).map { i in weighted.slots.filter { $0 == i }.count } == [253, 504, 252])
    }

    /// Maglev is not perfectly consistent: a few slots change hands between the endpoints that stay.
    /// Measured: 99.7-99.8% of their keys stay, whichever of the 10 endpoints leaves.
    @Test func maglevKeepsMostOtherKeysWhenAnEndpointLeaves() {
        let all = endpoints(10)
        let before = maglevOwners(all)
        for leaving in all.indices {
            var rest = all
            let removed = rest.remove(at: leaving).key
            let after = maglevOwners(rest)
            let kept = zip(before, after).filter { $0.0 != removed }
            let stayed = Double(kept.filter { $0.0 == $0.1 }.count) / Double(kept.count)
            #expect(stayed > 0.99, "\(removed) left: \(stayed)")
        }
    }

    @Test func maglevMovesOnlyTheIneligibleEndpointsKeys() {
        let lb = LoadBalancers.make(.maglev(.clientIP), endpoints: endpoints(10), random: SplitMix64(seed: 0))
        expectOnlyTheIneligibleEndpointsKeysMove(lb)
        let small = MaglevBalancer(table: MaglevTable(endpoints: endpoints(10), size: 251), random: SplitMix64(seed: 0))
        expectOnlyTheIneligibleEndpointsKeysMove(small)
    }

    func expectOnlyTheIneligibleEndpointsKeysMove(_ lb: any LoadBalancer) {
        let healthy = owners(lb, keys: 5000)
        let down = lb.endpoints[4].key
        let degraded = owners(lb, keys: 5000, isEligible: { $0 != 4 })
        #expect(zip(healthy, degraded).allSatisfy { $0.0 == down || $0.0 == $0.1 })
        #expect(!degraded.contains(down))
        let heirs = Set(zip(healthy, degraded).filter { $0.0 == down }.map(\.1))
        #expect(heirs.count >= 5, "a dead endpoint's keys spread over the others: \(heirs.count)")
        #expect(owners(lb, keys: 5000) == healthy, "and come back when it does")
    }

    // MARK: hashing, shared

    @Test func hashTablesDoNotDependOnEndpointOrder() {
        let list = endpoints(7, weights: [1, 2, 1, 3, 1, 1, 2])
        let shuffled = [list[5], list[2], list[6], list[0], list[3], list[1], list[4]]
        for policy in [BalancingPolicy.ringHash(.clientIP), .maglev(.clientIP)] {
            let a = owners(LoadBalancers.make(policy, endpoints: list, random: SplitMix64(seed: 1)), keys: 3000)
            let b = owners(LoadBalancers.make(policy, endpoints: shuffled, random: SplitMix64(seed: 2)), keys: 3000)
            #expect(a == b, "\(policy.name)")
        }
    }

    @Test func hashingPoliciesWithoutAKeyFallBackToWeightedRandom() {
        for policy in [BalancingPolicy.ringHash(.cookie("sid")), .maglev(.cookie("sid"))] {
            let weighted = endpoints(3, weights: [1, 1, 2])
            let lb = LoadBalancers.make(policy, endpoints: weighted, random: SplitMix64(seed: 31))
            let counts = tally(3, 4000) { lb.pick(hash: nil, isEligible: { _ in true }) }
            #expect(abs(counts[0] - 1000) < 100 && abs(counts[2] - 2000) < 120, "\(policy.name) \(counts)")
        }
    }

    // MARK: building blocks

    @Test func stableHashIsFNV1aThenFmix64() {
        #expect(StableHash.fnv1a("".utf8) == 0xCBF2_9CE4_8422_2325)
        #expect(StableHash.fnv1a("a".utf8) == 0xAF63_DC4C_8601_EC8C)
        #expect(StableHash.fnv1a("foobar".utf8) == 0x8594_4171_F739_67E8)
        #expect(StableHash.hash("") == 0xEFD0_1F60_BA99_2926)
        #expect(StableHash.hash("10.0.0.1:8080") == 0xE8C7_2115_6ED5_2B14)
        #expect(StableHash.hash(Array("10.0.0.1:8080".utf8)) == StableHash.hash("10.0.0.1:8080"))
        #expect(StableHash.mix(0) == 0)
    }

    @Test func splitMix64MatchesTheReferenceSequence() {
        var random = SplitMix64(seed: 0)
        let reference: [UInt64] = [0xE220_A839_7B1D_CDAF, 0x6E78_9E6A_A1B9_65F4, 0x06C4_5D18_8009_454F]
        #expect([random.next(), random.next(), random.next()] == reference)
    }
}
