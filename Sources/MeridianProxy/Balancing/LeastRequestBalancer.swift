/// `least_request`: the eligible endpoint with the fewest outstanding requests per unit of weight;
/// ties go to smooth weighted round robin.
///
/// Outstanding requests are the cheapest signal of a slow or overloaded endpoint: it answers more
/// slowly, so its count grows and it gets less. Weights scale the count (`outstanding / weight`),
/// so an endpoint of weight 2 carries twice the concurrency of one of weight 1. At low concurrency
/// most picks are ties (everything at 0 outstanding); breaking them by weighted round robin, not
/// by lowest index, keeps the weights and does not pile every idle-time request on endpoint 0.
///
/// A full scan, O(n) per pick and no allocation: exact for the cluster sizes a reverse proxy
/// fronts. (Envoy samples two random endpoints instead; `p2c_ewma` is that policy.)
public final class LeastRequestBalancer: LoadBalancer {
    public let endpoints: [BalancerEndpoint]
    private let weights: [Int]
    private var outstanding: [Int]
    private var ties: SmoothWeightedRoundRobin

    /// `phase` is how many tie-breaking picks to skip (see `SmoothWeightedRoundRobin.randomPhase`).
    public init(endpoints: [BalancerEndpoint], phase: Int = 0) {
        self.endpoints = endpoints
        self.weights = endpoints.map(\.effectiveWeight)
        self.outstanding = Array(repeating: 0, count: endpoints.count)
        self.ties = SmoothWeightedRoundRobin(weights: weights)
        ties.skip(max(phase, 0))
    }

    /// Requests started and not yet finished on `endpoint`.
    public func outstandingRequests(_ endpoint: Int) -> Int {
        outstanding.indices.contains(endpoint) ? outstanding[endpoint] : 0
    }

    public func pick(hash: UInt64?, isEligible: (Int) -> Bool) -> Int? {
        // Locals, so the loops need not reload the arrays after every call to `isEligible`.
        let outstanding = self.outstanding
        let weights = self.weights
        // The least load as a fraction leastOutstanding / leastWeight, compared by
        // cross-multiplying so that no floating point rounding decides a tie.
        var leastOutstanding = -1
        var leastWeight = 1
        for i in outstanding.indices where isEligible(i) {
            if leastOutstanding < 0 || outstanding[i] * leastWeight < leastOutstanding * weights[i] {
                leastOutstanding = outstanding[i]
                leastWeight = weights[i]
            }
        }
        guard leastOutstanding >= 0 else { return nil }
        return ties.pick { i in
            outstanding[i] * leastWeight == leastOutstanding * weights[i] && isEligible(i)
        }
    }

    public func started(_ endpoint: Int) {
        guard outstanding.indices.contains(endpoint) else { return }
        outstanding[endpoint] += 1
    }

    public func finished(_ endpoint: Int, latency: Duration?, now: @autoclosure () -> Duration) {
        // Never below 0: an unpaired finish is a caller bug, but must not make an endpoint look
        // better than idle and attract all traffic.
        guard outstanding.indices.contains(endpoint), outstanding[endpoint] > 0 else { return }
        outstanding[endpoint] -= 1
    }
}
