/// An eviction policy the simulation can replay a workload against.
public enum EvictionPolicyKind: String, Sendable, CaseIterable {
    /// SIEVE, as `MemoryStore` uses (`SieveQueue`).
    case sieve
    /// Least recently used, the usual baseline (`LRUQueue`).
    case lru
}

/// Replays `requests` draws from a Zipf distribution over `keys` keys against a cache of `capacity` entries under
/// `policy`, and returns the hit ratio (hits over all requests, the cold start included).
///
/// It is how the store's policy was chosen, and how to check the choice against other skews and sizes: the same
/// seed gives the same draws, hence the same ratio, on every machine, and both policies see the same draws.
/// Entries are all the same size, so this measures the policies' choice of victims and nothing else.
///
/// - Parameters:
///   - zipfExponent: the skew; web traffic is usually between 0.6 and 1.2.
///   - seed: for the generator that draws the keys.
public func simulateEviction(
    policy: EvictionPolicyKind, keys: Int, requests: Int, zipfExponent: Double, capacity: Int, seed: UInt64
) -> Double {
    precondition(requests >= 1, "the simulation needs at least one request")
    precondition(capacity >= 1, "the simulated cache needs room for at least one entry")
    let sampler = ZipfSampler(keys: keys, exponent: zipfExponent)
    var random = Xoshiro256StarStar(seed: seed)
    let hits: Int
    switch policy {
    case .sieve:
        var queue = SieveQueue<Int>(minimumCapacity: capacity)
        hits = replay(into: &queue, requests: requests, capacity: capacity, sampler: sampler, random: &random)
    case .lru:
        var queue = LRUQueue<Int>(minimumCapacity: capacity)
        hits = replay(into: &queue, requests: requests, capacity: capacity, sampler: sampler, random: &random)
    }
    return Double(hits) / Double(requests)
}

/// What the simulation needs of an eviction order; `SieveQueue` and `LRUQueue` share this shape.
protocol EvictionOrder {
    associatedtype Key: Hashable
    var count: Int { get }
    func slot(of key: Key) -> Int?
    mutating func markVisited(_ slot: Int)
    mutating func insert(_ key: Key) -> Int
    mutating func evict() -> Key?
}

extension SieveQueue: EvictionOrder {}
extension LRUQueue: EvictionOrder {}

/// Demand paging: a miss evicts one key when the cache is full and then inserts the missing one.
private func replay<Order: EvictionOrder>(
    into order: inout Order, requests: Int, capacity: Int, sampler: ZipfSampler,
    random: inout Xoshiro256StarStar
) -> Int where Order.Key == Int {
    var hits = 0
    for _ in 0..<requests {
        let key = sampler.next(using: &random)
        if let slot = order.slot(of: key) {
            hits += 1
            order.markVisited(slot)
        } else {
            if order.count >= capacity { _ = order.evict() }
            _ = order.insert(key)
        }
    }
    return hits
}
