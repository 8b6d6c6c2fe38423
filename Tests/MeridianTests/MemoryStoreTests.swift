import Testing

@testable import MeridianCache

/// The store's bounds, accounting, expiry and purges, with `now` driven by the tests (no sleeping), and a smoke
/// test of concurrent use.
@Suite struct MemoryStoreTests {
    /// One shard, so which entry the hand picks does not depend on how keys hash.
    static func singleShard(maxBytes: Int = 1_000_000, maxEntries: Int = 100) -> MemoryStore<String> {
        MemoryStore(maxBytes: maxBytes, maxEntries: maxEntries, shards: 1)
    }

    @Test func bothBoundsHoldAfterEveryPut() {
        let store = MemoryStore<Int>(maxBytes: 64_000, maxEntries: 200, shards: 4)
        let share = 64_000 / 4
        var random = Xoshiro256StarStar(seed: 2024)
        var now = 0.0
        var refused = 0
        for step in 0..<5000 {
            let key = "k\(random.next() % 600)"
            switch random.next() % 4 {
            case 0, 1:
                // Mostly small, sometimes big, now and then too big for a shard.
                let cost = random.next() % 10 == 0 ? Int(random.next() % 20_000) : Int(random.next() % 1500)
                let stored = store.put(key, step, cost: cost, expiresAt: now + Double(random.next() % 50))
                #expect(stored == (cost <= share))
                if !stored { refused += 1 }
            case 2:
                _ = store.get(key, now: now)
            default:
                now += 0.5
            }
            #expect(store.bytes <= store.maxBytes && store.count <= store.maxEntries, "step \(step)")
            #expect(store.bytes >= 0 && store.count >= 0)
        }
        #expect(store.isConsistent)
        #expect(refused > 0 && store.evictions > 0 && store.expirations > 0, "every path was taken")
    }

    @Test func replacingAnEntryReplacesItsCost() {
        let store = Self.singleShard()
        #expect(store.put("a", "old", cost: 100, expiresAt: 10))
        #expect(store.put("b", "b", cost: 7, expiresAt: 10))
        #expect(store.put("a", "new", cost: 30, expiresAt: 10))
        #expect(store.bytes == 37 && store.count == 2)
        #expect(store.get("a", now: 0) == "new")
        #expect(store.evictions == 0)
        #expect(store.isConsistent)
    }

    @Test func anEntryLargerThanAShardsShareIsRefused() {
        let store = MemoryStore<String>(maxBytes: 1000, maxEntries: 100, shards: 4)
        #expect(!store.put("big", "x", cost: 251, expiresAt: 10))
        #expect(store.count == 0 && store.bytes == 0 && store.get("big", now: 0) == nil)
        #expect(store.put("fits", "x", cost: 250, expiresAt: 10))
        #expect(store.bytes == 250)
        #expect(!store.put("fits", "y", cost: 400, expiresAt: 10))
        #expect(store.get("fits", now: 0) == nil, "the superseded entry does not outlive a refused replacement")
        #expect(store.count == 0 && store.bytes == 0)
    }

    @Test func anEntryIsFreshUntilItsExpiryAndGoneAtIt() {
        let store = Self.singleShard()
        store.put("a", "A", cost: 10, expiresAt: 100)
        #expect(store.get("a", now: 99.999) == "A")
        #expect(store.expirations == 0)
        #expect(store.get("a", now: 100) == nil)
        #expect(store.count == 0 && store.bytes == 0 && store.expirations == 1 && store.evictions == 0)
        #expect(store.get("a", now: 100) == nil)
        #expect(store.expirations == 1, "removed on sight, counted once")
    }

    @Test func theEntryCountIsABound() {
        let store = Self.singleShard(maxEntries: 2)
        store.put("a", "A", cost: 1, expiresAt: 10)
        store.put("b", "B", cost: 1, expiresAt: 10)
        store.put("c", "C", cost: 1, expiresAt: 10)
        #expect(store.count == 2 && store.evictions == 1)
        #expect(store.get("a", now: 0) == nil, "the oldest unvisited entry went")
    }

    @Test func theByteCountIsABound() {
        let store = Self.singleShard(maxBytes: 100)
        store.put("a", "A", cost: 60, expiresAt: 10)
        store.put("b", "B", cost: 30, expiresAt: 10)
        store.put("c", "C", cost: 50, expiresAt: 10)
        #expect(store.bytes == 80 && store.count == 2 && store.evictions == 1)
        #expect(store.get("a", now: 0) == nil && store.get("b", now: 0) == "B")
    }

    @Test func aHitEntrySurvivesTheNextEviction() {
        let store = Self.singleShard(maxEntries: 3)
        for key in ["a", "b", "c"] { store.put(key, key, cost: 1, expiresAt: 10) }
        #expect(store.get("a", now: 0) == "a")
        store.put("d", "d", cost: 1, expiresAt: 10)
        #expect(store.get("a", now: 0) == "a")
        #expect(store.get("b", now: 0) == nil)
    }

    @Test func theHandTakesExpiredEntriesBeforeVictimsOfThePolicy() {
        let store = Self.singleShard(maxEntries: 3)
        store.put("a", "a", cost: 1, expiresAt: 100)
        store.put("b", "b", cost: 1, expiresAt: 5)
        store.put("c", "c", cost: 1, expiresAt: 100)
        for key in ["a", "b", "c"] { #expect(store.get(key, now: 1) == key) }  // all visited
        #expect(store.get("a", now: 6) == "a")  // the store has now seen time 6: b has expired, unnoticed
        store.put("d", "d", cost: 1, expiresAt: 100)
        #expect(store.expirations == 1 && store.evictions == 0, "b went for having expired, not by SIEVE")
        for key in ["a", "c", "d"] { #expect(store.get(key, now: 6) == key) }
    }

    @Test func removeAllWhereCountsWhatItRemoves() {
        let store = MemoryStore<Int>(maxBytes: 1 << 20, maxEntries: 1000)
        for i in 0..<100 {
            store.put("/a/\(i)", i, cost: 10, expiresAt: 10)
            store.put("/b/\(i)", i, cost: 3, expiresAt: 10)
        }
        #expect(store.count == 200)
        #expect(store.removeAll { key, _ in key.hasPrefix("/a/") } == 100)
        #expect(store.count == 100 && store.bytes == 300)
        #expect(store.removeAll { _, value in value.isMultiple(of: 2) } == 50)
        #expect(store.removeAll { _, _ in false } == 0)
        #expect(store.count == 50 && store.bytes == 150)
        #expect(store.get("/b/1", now: 0) == 1 && store.get("/b/2", now: 0) == nil)
        #expect(store.isConsistent)
    }

    @Test func removeAndRemoveAll() {
        let store = MemoryStore<Int>(maxBytes: 1 << 20, maxEntries: 1000)
        for i in 0..<50 { store.put("k\(i)", i, cost: 5, expiresAt: 10) }
        #expect(store.remove("k1"))
        #expect(!store.remove("k1"))
        #expect(store.count == 49 && store.bytes == 245)
        store.removeAll()
        #expect(store.count == 0 && store.bytes == 0 && store.get("k2", now: 0) == nil)
        #expect(store.evictions == 0 && store.expirations == 0, "removals are neither")
        store.put("again", 1, cost: 5, expiresAt: 10)
        #expect(store.get("again", now: 0) == 1 && store.isConsistent)
    }

    @Test func theSharesAddUpToTheBounds() {
        #expect(MemoryStore<Int>(maxBytes: 100, maxEntries: 5, shards: 16).shardCount == 5)
        let store = MemoryStore<Int>(maxBytes: 1000, maxEntries: 10, shards: 3)
        for i in 0..<1000 { store.put("k\(i)", i, cost: 1, expiresAt: 10) }
        #expect(store.count == 10, "shares of 4, 3 and 3 entries, all filled")
        #expect(store.isConsistent)
    }

    /// Four tasks put, get and remove over shared keys; the bounds hold whenever they are read, and at the end the
    /// counters equal the sums over the entries present.
    @Test func concurrentUseKeepsTheBoundsAndTheCounts() async {
        let store = MemoryStore<[UInt8]>(maxBytes: 50_000, maxEntries: 300, shards: 4)
        await withTaskGroup(of: Void.self) { group in
            for task in 0..<4 {
                group.addTask {
                    var random = Xoshiro256StarStar(seed: UInt64(task))
                    for step in 0..<20_000 {
                        let key = "/item/\(random.next() % 1000)"
                        let now = Double(step) / 100
                        switch random.next() % 8 {
                        case 0, 1, 2:
                            let cost = Int(random.next() % 1000)
                            store.put(key, [UInt8(task)], cost: cost, expiresAt: now + Double(random.next() % 20))
                        case 3:
                            store.remove(key)
                        case 4 where step % 1000 == 0:
                            store.removeAll { key, _ in key.hasSuffix("7") }
                        default:
                            _ = store.get(key, now: now)
                        }
                        if step % 64 == 0 {
                            #expect(store.bytes <= store.maxBytes && store.count <= store.maxEntries)
                        }
                    }
                }
            }
        }
        #expect(store.isConsistent)
        #expect(store.count > 0 && store.evictions > 0 && store.expirations > 0)
    }

    /// A URL's entries share a shard, so removing them visits that shard alone.
    @Test func removeAllInGroupOfRemovesOnlyThatGroupsPickedEntries() {
        let store = MemoryStore<Int>(maxBytes: 1 << 20, maxEntries: 1000, shards: 16)
        let url = "GET https://example.com/a"
        store.put(url, 0, cost: 10, expiresAt: 100)
        for v in 1...5 { store.put(url + "\u{1F}v=\(v)", v, cost: 10, expiresAt: 100) }
        for i in 0..<50 { store.put("GET https://example.com/other\(i)", i, cost: 10, expiresAt: 100) }
        let removed = store.removeAll(inGroupOf: url) { key, _ in key.hasPrefix(url) }
        #expect(removed == 6)
        #expect(store.count == 50)
        #expect(store.get(url + "\u{1F}v=3", now: 0) == nil)
        #expect(store.get("GET https://example.com/other7", now: 0) == 7)
        #expect(store.isConsistent)
    }
}
