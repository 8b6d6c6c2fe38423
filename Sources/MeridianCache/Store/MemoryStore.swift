internal import Atomics
internal import NIOConcurrencyHelpers

/// The in-process (L1) cache store: values by string key, bounded in bytes and in entries, shared by every event
/// loop of the process.
///
/// Keys are spread over independent shards, each with its own lock, its own SIEVE queue (`SieveQueue`) and its own
/// share of both bounds, so threads working on different keys rarely meet and no operation takes a global lock.
/// A hit takes one shard lock for a dictionary lookup, an expiry check and a bit write (SIEVE moves nothing on a
/// hit), and allocates nothing beyond the retain of the value it returns. Inside a lock the store only changes
/// its own state; the one caller code that runs there is the predicate of `removeAll(where:)`, and the last
/// release of a value the store drops (for a buffer, a `free`), except in `removeAll()`, which drops outside.
///
/// Sharding makes the bounds per shard: an entry must fit in one shard's share of `maxBytes`, and a shard that
/// draws more than its share of the keys evicts a little earlier than a single global list would. With 16 shards
/// and string hashing the shares fill evenly; the bounds hold at all times.
///
/// Time is the caller's: `get` takes `now` (seconds on any monotonic or wall clock, as long as `expiresAt` is on the
/// same one), and tests drive it directly instead of sleeping.
public final class MemoryStore<Value: Sendable>: Sendable {
    /// The bound on the sum of the entries' costs.
    public let maxBytes: Int
    /// The bound on the number of entries.
    public let maxEntries: Int

    private let shards: [NIOLockedValueBox<Shard>]
    // Written only under a shard lock, read anywhere without one. Each shard's changes reach these in that
    // shard's lock order and never leave it over its bounds, so every value a reader sees is within the bounds.
    private let byteCount = ManagedAtomic<Int>(0)
    private let entryCount = ManagedAtomic<Int>(0)
    private let evictionCount = ManagedAtomic<Int>(0)
    private let expirationCount = ManagedAtomic<Int>(0)

    /// Creates an empty store.
    ///
    /// - Parameters:
    ///   - maxBytes: the bound on the sum of the entries' costs; each shard gets an equal share.
    ///   - maxEntries: the bound on the number of entries; each shard gets an equal share of at least one entry,
    ///     so a store with fewer entries than `shards` has only `maxEntries` shards.
    ///   - shards: how many independently locked parts to split the keys over.
    public init(maxBytes: Int, maxEntries: Int, shards: Int = 16) {
        precondition(maxBytes >= 0, "maxBytes must not be negative, got \(maxBytes)")
        precondition(maxEntries >= 1, "maxEntries must be at least 1, got \(maxEntries)")
        precondition(shards >= 1, "shards must be at least 1, got \(shards)")
        self.maxBytes = maxBytes
        self.maxEntries = maxEntries
        let shardCount = min(shards, maxEntries)
        // The remainders go one each to the first shards, so the shares add up to the bounds exactly.
        self.shards = (0..<shardCount).map { index in
            let bytes = maxBytes / shardCount + (index < maxBytes % shardCount ? 1 : 0)
            let entries = maxEntries / shardCount + (index < maxEntries % shardCount ? 1 : 0)
            return NIOLockedValueBox(Shard(maxBytes: bytes, maxEntries: entries))
        }
    }

    /// How many shards the keys are split over.
    public var shardCount: Int { shards.count }

    /// The sum of the costs of the entries present.
    public var bytes: Int { byteCount.load(ordering: .relaxed) }

    /// The number of entries present, fresh or expired but not yet noticed.
    public var count: Int { entryCount.load(ordering: .relaxed) }

    /// Entries removed to make room, whether by SIEVE or because a bound had to hold; expiries are not counted.
    public var evictions: Int { evictionCount.load(ordering: .relaxed) }

    /// Expired entries removed, on a `get` that found one or by the eviction hand.
    public var expirations: Int { expirationCount.load(ordering: .relaxed) }

    /// The value stored under `key` if it is still fresh at `now` (`now < expiresAt`), and records the hit for
    /// SIEVE. An expired entry is removed on sight and `nil` returned.
    public func get(_ key: String, now: Double) -> Value? {
        let key = HashedKey(key)
        return withShard(for: key) { shard, tally in shard.get(key, now: now, tally: &tally) }
    }

    /// Stores `value` under `key`, replacing any entry there, and evicts until both bounds hold: first the expired
    /// entries the eviction hand meets, then by SIEVE. Not being given the time, the hand judges expiry by the
    /// latest `now` a `get` on the same shard passed in, which a fill's own missing `get` has just brought up to date.
    ///
    /// - Parameters:
    ///   - cost: the entry's size in bytes (body and headers, as the caller reckons it); not negative.
    ///   - expiresAt: when the entry stops being fresh, on the clock `get`'s `now` uses.
    /// - Returns: false, storing nothing, when `cost` exceeds one shard's share of `maxBytes`; an entry already
    ///   under `key` is still removed then, since the caller meant to replace it.
    @discardableResult
    public func put(_ key: String, _ value: Value, cost: Int, expiresAt: Double) -> Bool {
        let key = HashedKey(key)
        return withShard(for: key) { shard, tally in
            shard.put(key, value, cost: cost, expiresAt: expiresAt, tally: &tally)
        }
    }

    /// Removes the entry under `key`; false when there was none.
    @discardableResult
    public func remove(_ key: String) -> Bool {
        let key = HashedKey(key)
        return withShard(for: key) { shard, tally in shard.remove(key, tally: &tally) }
    }

    /// Removes every entry `shouldRemove` picks (purges by prefix or tag) and returns how many.
    ///
    /// The shards are visited one at a time, each under its own lock while `shouldRemove` runs over its entries;
    /// the others stay available. So `shouldRemove` must be cheap (it delays every request for that shard) and
    /// must not call back into this store, which would deadlock on the shard lock. An entry stored in a shard
    /// already visited, while the purge goes on, is not seen.
    @discardableResult
    public func removeAll(where shouldRemove: (String, Value) -> Bool) -> Int {
        var removed = 0
        for shard in shards {
            removed += shard.withLockedValue { shard in
                var tally = Shard.Tally()
                let count = shard.removeAll(where: shouldRemove, tally: &tally)
                publish(tally)
                return count
            }
        }
        return removed
    }

    /// Removes the entries `shouldRemove` picks among those of `key`'s group (see ``HashedKey``): one shard is
    /// visited, under its lock, with the same rules for `shouldRemove` as ``removeAll(where:)``.
    @discardableResult
    public func removeAll(inGroupOf key: String, where shouldRemove: (String, Value) -> Bool) -> Int {
        shards[shardIndex(for: HashedKey(key))].withLockedValue { shard in
            var tally = Shard.Tally()
            let count = shard.removeAll(where: shouldRemove, tally: &tally)
            publish(tally)
            return count
        }
    }

    /// Removes every entry. The values are released after each shard's lock is let go.
    public func removeAll() {
        for shard in shards {
            // The old state comes out of the lock and is dropped only after it is released.
            _ = shard.withLockedValue { shard in
                var old = Shard(maxBytes: shard.maxBytes, maxEntries: shard.maxEntries)
                swap(&shard, &old)
                publish(Shard.Tally(bytes: -old.bytes, count: -old.count))
                return old
            }
        }
    }

    // MARK: - Inspection for tests

    /// Whether every shard's links, index and byte total agree, and the counters equal the sums of the entries
    /// actually present. Meaningful only while no other thread is using the store.
    var isConsistent: Bool {
        var bytes = 0
        var count = 0
        for shard in shards {
            let ok = shard.withLockedValue { shard in
                bytes += shard.recountedBytes
                count += shard.count
                return shard.isConsistent && shard.bytes <= shard.maxBytes && shard.count <= shard.maxEntries
            }
            guard ok else { return false }
        }
        return bytes == self.bytes && count == self.count
    }

    // MARK: - Shards

    private func withShard<Result>(
        for key: HashedKey, _ body: (inout Shard, inout Shard.Tally) -> Result
    ) -> Result {
        shards[shardIndex(for: key)].withLockedValue { shard in
            var tally = Shard.Tally()
            let result = body(&shard, &tally)
            publish(tally)
            return result
        }
    }

    /// Maps the key's hash onto the shards by multiplication (Lemire's fast range reduction), which needs no
    /// power-of-two shard count. The shard's dictionary hashes the hash again with its own seed, so the keys of one
    /// shard still spread over its buckets; the seed of `hashValue` is per process, so clients cannot aim keys at
    /// one shard.
    private func shardIndex(for key: HashedKey) -> Int {
        let hash = UInt(bitPattern: key.groupHash)
        return Int(hash.multipliedFullWidth(by: UInt(shards.count)).high)
    }

    /// Called under the shard's lock, so the counters move in the same order as the shard's state.
    private func publish(_ tally: Shard.Tally) {
        if tally.bytes != 0 { byteCount.wrappingIncrement(by: tally.bytes, ordering: .relaxed) }
        if tally.count != 0 { entryCount.wrappingIncrement(by: tally.count, ordering: .relaxed) }
        if tally.evictions != 0 { evictionCount.wrappingIncrement(by: tally.evictions, ordering: .relaxed) }
        if tally.expirations != 0 { expirationCount.wrappingIncrement(by: tally.expirations, ordering: .relaxed) }
    }
}
