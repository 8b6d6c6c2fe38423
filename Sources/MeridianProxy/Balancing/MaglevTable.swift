/// A Maglev lookup table: `size` slots (a prime), each holding an endpoint, filled so that every
/// endpoint gets a share of slots proportional to its weight; a key's endpoint is
/// `slots[hash % size]`.
///
/// Against the ring it trades a little consistency for an O(1) lookup, a table of fixed size
/// whatever the weights, and a near-perfectly even spread (each endpoint's share is within a slot
/// or so of its weight, where a ring's arcs vary by several percent). Each endpoint walks its own
/// permutation of the slots (`offset + j × skip mod size`, from two hashes of its key) and the
/// endpoints take turns claiming their next free preferred slot; when one leaves, the others mostly
/// claim the same slots as before, so most keys stay put.
///
/// Eisenbud et al., "Maglev: A Fast and Reliable Software Network Load Balancer", NSDI 2016, §3.4
/// (Pseudocode 1). Weights as in Envoy's `MaglevTable`: an endpoint takes a turn in a round only
/// when its accumulated weight has caught up, so weight w of a maximum W takes w/W of the rounds.
///
/// Immutable and `Sendable`: build it once per cluster and share it with every event loop's
/// `MaglevBalancer`.
public struct MaglevTable: Sendable {
    /// The paper's smaller table size. A prime; the paper asks for more than 100 slots per endpoint
    /// to keep the endpoints' shares within about 1% of each other, so this serves clusters of up
    /// to ~650 endpoints.
    public static let defaultSize = 65537

    public let endpoints: [BalancerEndpoint]
    /// The number of slots, a prime.
    public let size: Int
    /// The endpoint index in each slot; empty when there are no endpoints.
    let slots: [Int32]
    /// For requests without a key.
    let fallback: WeightedSampler

    /// Builds the table. `size` must be a prime (so every skip visits every slot); tests pass a
    /// small one. The endpoints take turns in key order, not list order, so that instances listing
    /// them differently build the same table.
    public init(endpoints: [BalancerEndpoint], size: Int = defaultSize) {
        precondition(Self.isPrime(size), "a Maglev table size must be a prime, not \(size)")
        self.endpoints = endpoints
        self.size = size
        let weights = endpoints.map(\.effectiveWeight)
        self.fallback = WeightedSampler(weights: weights)
        guard !endpoints.isEmpty else {
            self.slots = []
            return
        }

        let order = endpoints.indices.sorted { a, b in
            endpoints[a].key != endpoints[b].key ? endpoints[a].key < endpoints[b].key : a < b
        }
        var position = [Int](repeating: 0, count: endpoints.count)
        var skip = [Int](repeating: 0, count: endpoints.count)
        for (i, endpoint) in endpoints.enumerated() {
            let h = StableHash.hash(endpoint.key)
            position[i] = Int(h % UInt64(size))
            skip[i] = Int(StableHash.mix(h ^ 0x9E37_79B9_7F4A_7C15) % UInt64(size - 1)) + 1
        }

        let maxWeight = weights.max() ?? 1
        var owed = [Int](repeating: 0, count: endpoints.count)
        var table = [Int32](repeating: -1, count: size)
        var filled = 0
        var round = 0
        while filled < size {
            round += 1
            for i in order where filled < size {
                if round * weights[i] < owed[i] {
                    continue
                }
                owed[i] += maxWeight
                while table[position[i]] >= 0 {
                    position[i] = (position[i] + skip[i]) % size
                }
                table[position[i]] = Int32(i)
                position[i] = (position[i] + skip[i]) % size
                filled += 1
            }
        }
        self.slots = table
    }

    /// The endpoint that owns `hash` when every endpoint is eligible; nil for an empty table.
    public func endpoint(for hash: UInt64) -> Int? {
        slots.isEmpty ? nil : Int(slots[slot(for: hash)])
    }

    func slot(for hash: UInt64) -> Int {
        Int(hash % UInt64(size))
    }

    static func isPrime(_ n: Int) -> Bool {
        guard n >= 2 else { return false }
        var d = 2
        while d * d <= n {
            if n % d == 0 { return false }
            d += 1
        }
        return true
    }
}
