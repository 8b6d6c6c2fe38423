/// `ring_hash`: the request's key picks an endpoint on a shared `HashRing`; when that endpoint is
/// ineligible, the next eligible one clockwise.
///
/// Requests without a key (no cookie yet, a missing header) get a weighted random endpoint: they
/// have no affinity to keep, and sending them all to one point would overload its endpoint.
public final class RingHashBalancer: LoadBalancer {
    public let ring: HashRing
    private var random: SplitMix64
    private var probe: ForwardProbe

    public init(ring: HashRing, random: SplitMix64) {
        self.ring = ring
        self.random = random
        self.probe = ForwardProbe(endpointCount: ring.endpoints.count)
    }

    public var endpoints: [BalancerEndpoint] { ring.endpoints }

    public func pick(hash: UInt64?, isEligible: (Int) -> Bool) -> Int? {
        guard let hash else {
            return ring.fallback.draw(using: &random, isEligible: isEligible)
        }
        guard ring.pointCount > 0 else { return nil }
        return probe.firstEligible(in: ring.owners, from: ring.firstPoint(atOrAfter: hash), isEligible: isEligible)
    }

    public func started(_ endpoint: Int) {}

    public func finished(_ endpoint: Int, latency: Duration?, now: @autoclosure () -> Duration) {}
}
