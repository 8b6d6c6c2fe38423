internal import Dispatch

/// Measures `MemoryStore.get` in gets per second: `threads` threads each doing `getsPerThread` gets on a store of
/// `entries` entries, of which the share `hitRatio` find their key.
///
/// It shows what the shards buy: with one shard every get contends for one lock, with 16 two threads rarely meet.
/// Keys look like cache keys (a method and a URL, about 50 bytes), because hashing the key is a good part of a
/// get's cost, and each thread has its own copies, as each request builds its own key: shared key strings would
/// add a cross-core cache miss per get for their reference counts, which real traffic does not pay. Values are a
/// small array, so a hit pays the retain a real cached response would (and, on a value hot on several cores, the
/// same contended write). Run it in a release build; the figure is the best of `rounds`.
public func measureStoreGetThroughput(
    threads: Int, shards: Int, entries: Int = 10_000, hitRatio: Double = 0.9, getsPerThread: Int = 2_000_000,
    rounds: Int = 3
) -> Double {
    precondition(threads >= 1 && entries >= 1 && rounds >= 1 && (0...1).contains(hitRatio))
    // Room for twice the entries, so no shard that draws more than its share of the keys evicts any of them.
    let store = MemoryStore<[UInt8]>(maxBytes: 1 << 40, maxEntries: 2 * entries, shards: shards)
    let present = (0..<entries).map { "GET https://shop.example.com/catalog/items/\($0)?view=full" }
    let absent = (0..<entries).map { "GET https://shop.example.com/catalog/gone/\($0)?view=full" }
    for key in present { store.put(key, Array(repeating: 7, count: 16), cost: 1024, expiresAt: .infinity) }

    // Fresh string storage per thread (the interpolation allocates anew each time).
    let keysByThread = (0..<threads).map { _ in
        (0..<entries).map { (present: "\(present[$0])", absent: "\(absent[$0])") }
    }

    var best = 0.0
    for round in 0..<rounds {
        let clock = ContinuousClock()
        let start = clock.now
        DispatchQueue.concurrentPerform(iterations: threads) { thread in
            var random = Xoshiro256StarStar(seed: UInt64(round * threads + thread))
            let keys = keysByThread[thread]
            var hits = 0
            for _ in 0..<getsPerThread {
                let index = Int(random.next() % UInt64(entries))
                let key = random.nextUnitInterval() < hitRatio ? keys[index].present : keys[index].absent
                if store.get(key, now: 0) != nil { hits += 1 }
            }
            precondition(hits <= getsPerThread)  // uses `hits`, so the gets are not optimised away
        }
        let elapsed = clock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        best = max(best, Double(threads * getsPerThread) / seconds)
    }
    return best
}
