/// One endpoint as the balancer sees it: a stable key (`"10.0.0.1:8080"`, used for hashing) and a
/// weight.
///
/// The key, not the position in the list, is what the hashing policies hash, so two proxy
/// instances that list the same endpoints in a different order still agree on where a key goes.
public struct BalancerEndpoint: Sendable, Hashable {
    /// The largest weight a balancer honours. Weights are summed (and multiplied by the ring's
    /// points per weight unit), so an unbounded weight could overflow; a million to one is far
    /// beyond any useful ratio.
    public static let maxWeight = 1_000_000

    public var key: String
    /// At least 1. A weight of 0 (or less) is clamped to 1 rather than trapped on: "drain this
    /// endpoint" is expressed through eligibility, and a typo in a config must not crash a proxy.
    /// Weights above `maxWeight` are clamped to it.
    public var weight: Int

    public init(key: String, weight: Int = 1) {
        self.key = key
        self.weight = Self.clamp(weight)
    }

    /// The weight the balancers use: `weight` is a `var`, so it is clamped again where it is read.
    var effectiveWeight: Int { Self.clamp(weight) }

    static func clamp(_ weight: Int) -> Int {
        min(max(weight, 1), maxWeight)
    }
}
