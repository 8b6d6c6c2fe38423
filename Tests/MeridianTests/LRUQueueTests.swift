import Testing

@testable import MeridianCache

/// The simulation's LRU baseline: a hit moves the key to the newest end, the victim is always the oldest.
@Suite struct LRUQueueTests {
    @Test func hitsReorderAndTheLeastRecentlyUsedGoes() {
        var queue = LRUQueue<String>()
        for key in ["a", "b", "c"] { _ = queue.insert(key) }
        queue.markVisited(queue.slot(of: "a")!)
        #expect(queue.keysOldestFirst == ["b", "c", "a"])
        queue.markVisited(queue.slot(of: "a")!)
        #expect(queue.keysOldestFirst == ["b", "c", "a"], "a hit on the newest changes nothing")
        #expect(queue.victim() == queue.slot(of: "b"))
        #expect(queue.evict() == "b")
        #expect(queue.evict() == "c")
        #expect(queue.evict() == "a")
        #expect(queue.evict() == nil && queue.victim() == nil && queue.count == 0)
    }

    @Test func removalsRelinkAndFreedSlotsAreReused() {
        var queue = LRUQueue<Int>()
        for key in 0..<5 { _ = queue.insert(key) }
        let slot = queue.slot(of: 2)!
        #expect(queue.remove(at: slot) == 2)
        #expect(queue.keysOldestFirst == [0, 1, 3, 4])
        #expect(queue.insert(9) == slot)
        queue.remove(at: queue.slot(of: 0)!)
        queue.remove(at: queue.slot(of: 9)!)
        #expect(queue.keysOldestFirst == [1, 3, 4])
        #expect(queue.key(at: queue.victim()!) == 1)
    }
}
