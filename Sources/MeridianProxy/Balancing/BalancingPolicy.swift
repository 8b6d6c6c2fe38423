/// Where a hashing policy takes a request's key from. The proxy extracts and hashes it (with
/// `StableHash`); the balancer only ever sees the resulting `UInt64`.
public enum HashSource: Sendable, Equatable {
    case clientIP
    case header(String)
    case cookie(String)
}

/// The load-balancing policies, chosen by name in a cluster's config (`lb_policy: ring_hash`).
///
/// A policy is a value so that a config reload can compare old and new and keep the balancers
/// (and their state: outstanding counts, latency estimates) when nothing changed.
public enum BalancingPolicy: Sendable, Equatable {
    /// `round_robin`: smooth weighted round robin, as nginx does it.
    case roundRobin
    /// `least_request`: fewest outstanding requests per unit of weight.
    case leastRequest
    /// `p2c_ewma`: the better of two random endpoints by peak-EWMA latency × load.
    case p2cEWMA
    /// `random`: weighted random.
    case random
    /// `ring_hash`: consistent hashing on a ketama-style ring.
    case ringHash(HashSource)
    /// `maglev`: consistent hashing with a Maglev lookup table.
    case maglev(HashSource)

    /// Every config name, in the order the cases are declared.
    public static let names = ["round_robin", "least_request", "p2c_ewma", "random", "ring_hash", "maglev"]

    /// The name this policy has in config.
    public var name: String {
        switch self {
        case .roundRobin: "round_robin"
        case .leastRequest: "least_request"
        case .p2cEWMA: "p2c_ewma"
        case .random: "random"
        case .ringHash: "ring_hash"
        case .maglev: "maglev"
        }
    }

    /// Where the key comes from, for the hashing policies; nil for the others.
    public var hashSource: HashSource? {
        switch self {
        case .ringHash(let source), .maglev(let source): source
        case .roundRobin, .leastRequest, .p2cEWMA, .random: nil
        }
    }
}
