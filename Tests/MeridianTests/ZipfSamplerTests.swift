import Testing

@testable import MeridianCache

/// The sampler against the distribution it claims, and the generator's repeatability.
@Suite struct ZipfSamplerTests {
    @Test func probabilitiesFollowTheExponentAndSumToOne() {
        let sampler = ZipfSampler(keys: 1000, exponent: 1)
        #expect(abs(sampler.probability(of: 0) / sampler.probability(of: 9) - 10) < 1e-9)
        let total = (0..<1000).reduce(0.0) { $0 + sampler.probability(of: $1) }
        #expect(abs(total - 1) < 1e-9)
        let uniform = ZipfSampler(keys: 4, exponent: 0)
        #expect((0..<4).allSatisfy { abs(uniform.probability(of: $0) - 0.25) < 1e-12 })
    }

    @Test func drawsMatchTheProbabilities() {
        let sampler = ZipfSampler(keys: 100, exponent: 0.9)
        var random = Xoshiro256StarStar(seed: 11)
        var counts = [Int](repeating: 0, count: 100)
        let draws = 200_000
        for _ in 0..<draws { counts[sampler.next(using: &random)] += 1 }
        for rank in [0, 1, 10, 99] {
            let expected = sampler.probability(of: rank) * Double(draws)
            // Within five standard deviations of a binomial count.
            #expect(abs(Double(counts[rank]) - expected) < 5 * expected.squareRoot(), "rank \(rank)")
        }
    }

    @Test func theGeneratorRepeatsForASeed() {
        var first = Xoshiro256StarStar(seed: 5)
        var second = Xoshiro256StarStar(seed: 5)
        var other = Xoshiro256StarStar(seed: 6)
        let a = (0..<8).map { _ in first.next() }
        #expect(a == (0..<8).map { _ in second.next() })
        #expect(a != (0..<8).map { _ in other.next() })
        #expect((0..<1000).allSatisfy { _ in (0..<1).contains(first.nextUnitInterval()) })
    }
}
