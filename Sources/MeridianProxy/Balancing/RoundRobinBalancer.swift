/// `round_robin`: smooth weighted round robin over the eligible endpoints.
///
/// The default policy: it needs no feedback from responses, so it behaves the same on a cold
/// proxy as on a warm one, and with equal weights every endpoint gets exactly its share.
public final class RoundRobinBalancer: LoadBalancer {
    public let endpoints: [BalancerEndpoint]
    private var sequence: SmoothWeightedRoundRobin

    /// `phase` is how many picks to skip before the first (see
    /// `SmoothWeightedRoundRobin.randomPhase`); 0 starts the sequence at its beginning.
    public init(endpoints: [BalancerEndpoint], phase: Int = 0) {
        self.endpoints = endpoints
        self.sequence = SmoothWeightedRoundRobin(weights: endpoints.map(\.effectiveWeight))
        sequence.skip(max(phase, 0))
    }

    public func pick(hash: UInt64?, isEligible: (Int) -> Bool) -> Int? {
        sequence.pick(among: isEligible)
    }

    public func started(_ endpoint: Int) {}

    public func finished(_ endpoint: Int, latency: Duration?, now: @autoclosure () -> Duration) {}
}
