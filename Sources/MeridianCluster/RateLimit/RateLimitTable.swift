/// The token buckets of one route's local limit, one per key (client address, API key, …), in bounded memory.
///
/// Keys come from clients, so an attacker can send a new one with every request. The table never holds more than
/// `maxKeys` buckets; to make room it forgets, in this order:
/// 1. buckets that are full again: a full bucket is what a new key gets, so forgetting one loses nothing. The least
///    recently used bucket is checked first (idle the longest, most likely full), and every `maxKeys / 8` new keys
///    at capacity a sweep looks at all of them, so the cost per request stays constant however keys arrive;
/// 2. then the least recently used key, counted in ``evictedCount``: that key starts again from a full bucket, so
///    a table too small for its traffic lets some keys through more than their quota. Size it so this stays zero.
///
/// A request that leaves its bucket full (a cost of 0, or one above the burst) does not add its key at all.
///
/// Pure and confined to one event loop, like the proxy's pools; a limit shared by several loops or instances is a
/// global one (``LeaseLedger``, ``RedisScripts/gcraScript``).
public struct RateLimitTable<C: Clock>: Sendable where C.Duration == Duration {
    public let quota: RateLimitQuota
    /// The most buckets held at once.
    public let maxKeys: Int
    /// Keys forgotten while their bucket was not yet full (information lost: see the type's comment).
    public private(set) var evictedCount = 0

    private var buckets = KeyedLRU<TokenBucket<C>>()
    /// New keys added at capacity since the last full sweep.
    private var insertsSinceSweep = 0

    public init(_ quota: RateLimitQuota, maxKeys: Int = 100_000) {
        precondition(maxKeys >= 1, "a rate-limit table must hold at least one key")
        self.quota = quota
        self.maxKeys = maxKeys
    }

    /// Buckets held now.
    public var count: Int { buckets.count }

    /// Slots ever allocated: what the table's memory is sized by (for tests of the bound).
    var allocatedSlots: Int { buckets.allocatedSlots }

    /// Takes `n` tokens from the bucket of `key` (a full one when the key is new).
    public mutating func take(_ n: Int = 1, key: String, at now: C.Instant) -> RateLimitDecision {
        if let decision = buckets.update(key, { $0.take(n, at: now) }) {
            return decision
        }
        var bucket = TokenBucket<C>(quota, now: now)
        let decision = bucket.take(n, at: now)
        guard !bucket.isFull(at: now) else { return decision }
        makeRoom(at: now)
        buckets.insert(key, bucket)
        return decision
    }

    /// What ``take(_:key:at:)`` would answer, without taking tokens, adding the key or changing the order.
    public func peek(_ n: Int = 1, key: String, at now: C.Instant) -> RateLimitDecision {
        let bucket = buckets.value(forKey: key) ?? TokenBucket<C>(quota, now: now)
        return bucket.peek(n, at: now)
    }

    /// Forgets every bucket that is full at `now`, and says how many. O(keys): for a timer off the request path
    /// (every few seconds) when memory should shrink after a burst of keys; the table stays bounded without it.
    @discardableResult
    public mutating func sweep(at now: C.Instant) -> Int {
        insertsSinceSweep = 0
        return buckets.sweep { _, bucket in bucket.isFull(at: now) }
    }

    private mutating func makeRoom(at now: C.Instant) {
        guard buckets.count >= maxKeys else { return }
        if let (key, bucket) = buckets.leastRecentlyUsed, bucket.isFull(at: now) {
            buckets.remove(key)
            return
        }
        insertsSinceSweep += 1
        if insertsSinceSweep >= max(1, maxKeys / 8), sweep(at: now) > 0 {
            return
        }
        if let (key, _) = buckets.leastRecentlyUsed {
            buckets.remove(key)
            evictedCount += 1
        }
    }
}
