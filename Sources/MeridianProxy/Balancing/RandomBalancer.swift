/// `random`: a weighted random eligible endpoint.
///
/// Keeps no per-endpoint state, so many proxy instances and event loops, each choosing on its own,
/// still add up to weight-proportional load without coordinating; round robin on each of them
/// would too, but in lock-step bursts when they start together.
public final class RandomBalancer: LoadBalancer {
    public let endpoints: [BalancerEndpoint]
    private let sampler: WeightedSampler
    private var random: SplitMix64

    public init(endpoints: [BalancerEndpoint], random: SplitMix64) {
        self.endpoints = endpoints
        self.sampler = WeightedSampler(weights: endpoints.map(\.effectiveWeight))
        self.random = random
    }

    public func pick(hash: UInt64?, isEligible: (Int) -> Bool) -> Int? {
        sampler.draw(using: &random, isEligible: isEligible)
    }

    public func started(_ endpoint: Int) {}

    public func finished(_ endpoint: Int, latency: Duration?, now: @autoclosure () -> Duration) {}
}
