/// nginx's smooth weighted round robin: on each pick every candidate's `current` grows by its
/// weight, the largest `current` wins and gives back the candidates' total weight.
///
/// Unlike plain weighted round robin (a a a a a b c) it interleaves (weights 5, 1, 1 give
/// a a b a c a a), so a heavy endpoint never takes a burst of consecutive requests, and over any
/// cycle of total-weight picks each endpoint gets exactly its weight. Candidates left out of a pick
/// (ineligible) neither gain nor give, so the others share the traffic by their weights without
/// skew. nginx 1.3.1, `ngx_http_upstream_get_peer` in `src/http/ngx_http_upstream_round_robin.c`.
///
/// Shared by `RoundRobinBalancer` (all eligible endpoints are candidates) and
/// `LeastRequestBalancer` (the least-loaded ones are).
struct SmoothWeightedRoundRobin {
    /// The phase `LoadBalancers.make` skips is below this: enough to spread the first picks of many
    /// event loops and instances over any realistic cycle, cheap enough to run at build time.
    static let maxPhase: UInt64 = 1024

    let weights: [Int]
    private var current: [Int]

    init(weights: [Int]) {
        self.weights = weights
        self.current = Array(repeating: 0, count: weights.count)
    }

    /// A random number of picks to skip, so that balancers built at the same moment (one per
    /// event loop, one per proxy instance) do not all send their first request to endpoint 0.
    /// Envoy's weighted balancers skip a random number of picks at build time for the same reason.
    static func randomPhase(using random: inout SplitMix64) -> Int {
        Int(random.next() % maxPhase)
    }

    /// Advances the sequence by `phase` picks (modulo one cycle) as if every endpoint were eligible.
    mutating func skip(_ phase: Int) {
        let cycle = weights.reduce(0, +)
        guard cycle > 0 else { return }
        for _ in 0..<(phase % cycle) {
            _ = pick(among: { _ in true })
        }
    }

    /// Picks among the indices `isCandidate` accepts; nil when it accepts none. O(n), no allocation.
    mutating func pick(among isCandidate: (Int) -> Bool) -> Int? {
        let weights = self.weights
        // Through a buffer: writing `current[i]` directly re-checks that the array is uniquely
        // referenced after every call to `isCandidate`, which doubled the cost of a pick.
        return current.withUnsafeMutableBufferPointer { current in
            var best = -1
            var total = 0
            for i in weights.indices where isCandidate(i) {
                current[i] += weights[i]
                total += weights[i]
                if best < 0 || current[i] > current[best] {
                    best = i
                }
            }
            guard best >= 0 else { return nil }
            current[best] -= total
            return best
        }
    }
}
