internal import Foundation

/// Draws key ranks from a Zipf distribution: rank `k` (from 0) comes up with probability proportional to
/// `1 / (k + 1)^exponent`, the popularity skew web caches see (Breslau et al., "Web Caching and Zipf-like
/// Distributions", INFOCOM '99).
///
/// The cumulative distribution is computed once and each draw is a binary search in it: exact for any exponent,
/// including those at and below 1 where rejection samplers get awkward, and fast enough for millions of draws.
struct ZipfSampler: Sendable {
    private let cumulative: [Double]

    init(keys: Int, exponent: Double) {
        precondition(keys >= 1, "a Zipf distribution needs at least one key")
        precondition(exponent >= 0, "a Zipf exponent must not be negative")
        var running = 0.0
        var cumulative = [Double](repeating: 0, count: keys)
        for rank in 0..<keys {
            running += 1 / pow(Double(rank + 1), exponent)
            cumulative[rank] = running
        }
        for rank in 0..<keys { cumulative[rank] /= running }
        cumulative[keys - 1] = 1
        self.cumulative = cumulative
    }

    var keys: Int { cumulative.count }

    /// The probability of drawing `rank`.
    func probability(of rank: Int) -> Double {
        rank == 0 ? cumulative[0] : cumulative[rank] - cumulative[rank - 1]
    }

    /// A rank in `0..<keys`: the first whose cumulative probability exceeds a uniform draw.
    func next(using random: inout Xoshiro256StarStar) -> Int {
        let u = random.nextUnitInterval()
        var low = 0
        var high = cumulative.count - 1
        while low < high {
            let middle = (low + high) / 2
            if cumulative[middle] > u { high = middle } else { low = middle + 1 }
        }
        return low
    }
}
