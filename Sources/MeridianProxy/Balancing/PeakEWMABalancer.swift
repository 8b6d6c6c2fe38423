/// `p2c_ewma`: of two random eligible endpoints, the one with the lower
/// `peak-EWMA latency × (outstanding + 1) / weight`.
///
/// Latency catches an endpoint that is slow without being busy (a bad disk, a noisy neighbour),
/// which outstanding counts alone miss; multiplying by `outstanding + 1` keeps a fast endpoint from
/// being buried. Comparing two random endpoints instead of all of them ("the power of two
/// choices", Mitzenmacher 2001) is O(1), and it stops every event loop and instance from herding
/// onto the single best endpoint on stale information, which a global minimum invites.
///
/// An endpoint with no samples yet scores 0 so it gets tried; while such an endpoint has a request
/// in flight it scores a large penalty instead, so an unknown endpoint gets one probe at a time,
/// not a flood (Finagle does the same). The balancer reads no clock: "now" for decay is the latest
/// `now` any `finished` reported, which moves as long as any traffic completes.
public final class PeakEWMABalancer: LoadBalancer {
    /// The score of an unmeasured endpoint with requests in flight: far above any real latency ×
    /// load, yet small enough that adding the outstanding count still orders two such endpoints.
    static let unmeasuredPenalty = 1e12

    public let endpoints: [BalancerEndpoint]
    private let weights: [Double]
    private let tau: Double
    private let sampler: WeightedSampler
    private var random: SplitMix64
    private var outstanding: [Int]
    private var latency: [PeakEWMA]
    /// Seconds since the time origin of the `now`s reported to `finished`: the latest of them.
    private var now: Double = 0

    /// `decayWindow` is the EWMA's time constant: how long a latency spike keeps weighing.
    public init(endpoints: [BalancerEndpoint], decayWindow: Duration = .seconds(10), random: SplitMix64) {
        self.endpoints = endpoints
        self.weights = endpoints.map { Double($0.effectiveWeight) }
        self.tau = max(PeakEWMA.seconds(decayWindow), 1e-3)
        self.sampler = WeightedSampler(weights: Array(repeating: 1, count: endpoints.count))
        self.random = random
        self.outstanding = Array(repeating: 0, count: endpoints.count)
        self.latency = Array(repeating: PeakEWMA(), count: endpoints.count)
    }

    /// The score `pick` compares (lower is better); exposed for tests and diagnostics.
    public func score(_ endpoint: Int) -> Double {
        let pending = Double(outstanding[endpoint])
        let estimate = latency[endpoint]
        let load =
            estimate.hasSample || pending == 0
            ? estimate.cost(at: now, tau: tau) * (pending + 1)
            : Self.unmeasuredPenalty + pending
        return load / weights[endpoint]
    }

    public func pick(hash: UInt64?, isEligible: (Int) -> Bool) -> Int? {
        guard let first = sampler.draw(using: &random, isEligible: isEligible) else { return nil }
        guard let second = sampler.draw(using: &random, excluding: first, isEligible: isEligible) else {
            return first
        }
        // On a tie the first draw wins: it is uniformly random, so ties spread evenly.
        return score(second) < score(first) ? second : first
    }

    public func started(_ endpoint: Int) {
        guard outstanding.indices.contains(endpoint) else { return }
        outstanding[endpoint] += 1
    }

    public func finished(_ endpoint: Int, latency sample: Duration?, now: @autoclosure () -> Duration) {
        self.now = max(self.now, PeakEWMA.seconds(now()))
        guard outstanding.indices.contains(endpoint) else { return }
        if outstanding[endpoint] > 0 {
            outstanding[endpoint] -= 1
        }
        // A try that failed before a response has no latency to learn from; failing endpoints are
        // taken out by the breaker and outlier detection through `isEligible`.
        if let sample {
            latency[endpoint].observe(PeakEWMA.seconds(sample), at: self.now, tau: tau)
        }
    }
}
