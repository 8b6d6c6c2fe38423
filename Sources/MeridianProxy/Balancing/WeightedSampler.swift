/// Draws a random eligible endpoint with probability proportional to its weight.
///
/// Used on every request by `random`, by `p2c_ewma` (uniform weights) and by the hashing policies
/// when a request has no key, so the common case must be cheap: one draw, a binary search over
/// the cumulative weights and one eligibility question. When that endpoint is ineligible it draws
/// again a few times, then falls back to an exact two-pass scan over the eligible ones. Each stage
/// is exactly weight-proportional over the eligible endpoints, so the mixture is too. No allocation.
struct WeightedSampler: Sendable {
    /// Draws before falling back to the scan: with half the endpoints ineligible, 4 draws find an
    /// eligible one 15 times out of 16.
    static let attempts = 4

    /// `cumulative[i]` is the sum of the weights of endpoints 0...i.
    private let cumulative: [Int]

    init(weights: [Int]) {
        var running = 0
        self.cumulative = weights.map { weight in
            running += weight
            return running
        }
    }

    var count: Int { cumulative.count }

    private func weight(_ i: Int) -> Int {
        i == 0 ? cumulative[0] : cumulative[i] - cumulative[i - 1]
    }

    /// A weighted random index that `isEligible` accepts and is not `excluded`; nil when none is.
    func draw(
        using random: inout SplitMix64,
        excluding excluded: Int? = nil,
        isEligible: (Int) -> Bool
    ) -> Int? {
        guard let total = cumulative.last else { return nil }
        for _ in 0..<Self.attempts {
            let i = index(containing: Int.random(in: 0..<total, using: &random))
            if i != excluded && isEligible(i) {
                return i
            }
        }
        var eligibleTotal = 0
        for i in cumulative.indices where i != excluded && isEligible(i) {
            eligibleTotal += weight(i)
        }
        guard eligibleTotal > 0 else { return nil }
        var target = Int.random(in: 0..<eligibleTotal, using: &random)
        for i in cumulative.indices where i != excluded && isEligible(i) {
            target -= weight(i)
            if target < 0 {
                return i
            }
        }
        return nil
    }

    /// The first index whose cumulative weight exceeds `point` (binary search, O(log n)).
    private func index(containing point: Int) -> Int {
        var low = 0
        var high = cumulative.count - 1
        while low < high {
            let mid = (low + high) / 2
            if cumulative[mid] > point {
                high = mid
            } else {
                low = mid + 1
            }
        }
        return low
    }
}
