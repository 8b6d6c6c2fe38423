/// A consistent-hashing ring, ketama style: each endpoint owns points on a 64-bit circle, as many
/// as its weight × `pointsPerWeight`, and a key belongs to the first point at or after its hash.
///
/// Consistent hashing (Karger et al., STOC 1997) keeps a client on one endpoint (its caches, its
/// sessions) and, when an endpoint leaves, moves only that endpoint's keys: a point's position
/// depends on its endpoint's key alone, so the other endpoints' points, and their keys, stay put.
/// Many points per endpoint even out the arcs (160 per unit of weight, as libketama and nginx's
/// `hash ... consistent` use); the total is capped so a large cluster does not build a huge ring.
///
/// Immutable and `Sendable`: build it once per cluster and share it with every event loop's
/// `RingHashBalancer`.
public struct HashRing: Sendable {
    public static let defaultPointsPerWeight = 160
    public static let defaultMaxPoints = 1 << 17

    public let endpoints: [BalancerEndpoint]
    /// Point positions in ascending order, and the endpoint index owning each.
    let positions: [UInt64]
    let owners: [Int32]
    /// For requests without a key.
    let fallback: WeightedSampler

    /// Builds the ring. Past `maxPoints`, every endpoint's share is scaled down (at least one point
    /// each); since an endpoint's points are numbered, scaling drops its last points rather than
    /// moving the others, but keys do move when the scale changes.
    public init(
        endpoints: [BalancerEndpoint],
        pointsPerWeight: Int = defaultPointsPerWeight,
        maxPoints: Int = defaultMaxPoints
    ) {
        self.endpoints = endpoints
        let weights = endpoints.map(\.effectiveWeight)
        self.fallback = WeightedSampler(weights: weights)

        let perWeight = min(max(pointsPerWeight, 1), 10_000)
        let wanted = weights.reduce(0) { $0 + $1 * perWeight }
        let scale = wanted > maxPoints ? Double(max(maxPoints, 1)) / Double(wanted) : 1
        let counts = weights.map { max(1, Int(Double($0 * perWeight) * scale)) }
        var points: [(position: UInt64, owner: Int32)] = []
        points.reserveCapacity(counts.reduce(0, +))
        for (i, endpoint) in endpoints.enumerated() {
            for n in 0..<counts[i] {
                points.append((StableHash.hash("\(endpoint.key)-\(n)"), Int32(i)))
            }
        }
        // Equal positions (a 64-bit collision) are ordered by key, not by list position, so that
        // instances listing the endpoints in another order still build the same ring.
        points.sort { a, b in
            if a.position != b.position { return a.position < b.position }
            let keyA = endpoints[Int(a.owner)].key
            let keyB = endpoints[Int(b.owner)].key
            return keyA != keyB ? keyA < keyB : a.owner < b.owner
        }
        self.positions = points.map(\.position)
        self.owners = points.map(\.owner)
    }

    /// The number of points on the ring.
    public var pointCount: Int { positions.count }

    /// The endpoint that owns `hash` when every endpoint is eligible; nil for an empty ring.
    public func endpoint(for hash: UInt64) -> Int? {
        owners.isEmpty ? nil : Int(owners[firstPoint(atOrAfter: hash)])
    }

    /// The index of the first point at or after `hash`, wrapping past the top to point 0.
    /// Binary search, O(log points).
    func firstPoint(atOrAfter hash: UInt64) -> Int {
        var low = 0
        var high = positions.count
        while low < high {
            let mid = (low + high) / 2
            if positions[mid] < hash {
                low = mid + 1
            } else {
                high = mid
            }
        }
        return low == positions.count ? 0 : low
    }
}
