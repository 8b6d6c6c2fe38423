/// Builds the balancer for a policy: the one place a config name turns into code, so that a test
/// building every `BalancingPolicy` case covers every policy (an unbuilt policy is how a broken one
/// ships unnoticed).
public enum LoadBalancers {
    /// Builds a balancer for `policy` over `endpoints`.
    ///
    /// `random` seeds the balancer's randomness (tests pass a fixed seed; the default comes from
    /// the system generator, so event loops and proxy instances do not move in lock-step).
    ///
    /// The hashing policies build their table here. To build a table once and share it across
    /// event loops, build a `HashRing` or `MaglevTable` and hand it to `RingHashBalancer(ring:random:)`
    /// or `MaglevBalancer(table:random:)` on each loop instead.
    public static func make(
        _ policy: BalancingPolicy,
        endpoints: [BalancerEndpoint],
        random: SplitMix64 = SplitMix64(seed: UInt64.random(in: .min ... .max))
    ) -> any LoadBalancer {
        var random = random
        let phase = SmoothWeightedRoundRobin.randomPhase(using: &random)
        switch policy {
        case .roundRobin:
            return RoundRobinBalancer(endpoints: endpoints, phase: phase)
        case .leastRequest:
            return LeastRequestBalancer(endpoints: endpoints, phase: phase)
        case .p2cEWMA:
            return PeakEWMABalancer(endpoints: endpoints, random: random)
        case .random:
            return RandomBalancer(endpoints: endpoints, random: random)
        case .ringHash:
            return RingHashBalancer(ring: HashRing(endpoints: endpoints), random: random)
        case .maglev:
            return MaglevBalancer(table: MaglevTable(endpoints: endpoints), random: random)
        }
    }
}
